package spid

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// Algorithms of the hand-off token (Options.TokenAlg).
const (
	// TokenES256 is ECDSA on P-256 with SHA-256: the default, about as
	// widely supported by JWT libraries as RS256 and an order of magnitude
	// cheaper to sign (BenchmarkIssueToken).
	TokenES256 = "ES256"
	// TokenEdDSA is Ed25519: cheaper still to sign and verify, but not every
	// JWT library reads OKP keys.
	TokenEdDSA = "EdDSA"
	// TokenRS256 signs with the SP's RSA key itself, as Ponte did first.
	TokenRS256 = "RS256"
)

// TokenAlgs lists the accepted values of Options.TokenAlg.
var TokenAlgs = []string{TokenES256, TokenEdDSA, TokenRS256}

// tokenKeys are the keys of the hand-off token: sign is the private key of
// the configured algorithm; public is the JWKS, whose first key is sign's.
//
// The elliptic-curve keys are derived from the SP's RSA key (HKDF-SHA256 of
// its private exponent, one label per algorithm), so every replica and
// every restart of a gateway signs with the same key and no second secret
// has to be distributed; knowing a derived key tells nothing of the RSA key.
//
// The JWKS always carries the RSA and ES256 public keys, plus EdDSA's when
// that is the algorithm: a change of TokenAlg between RS256 and ES256 (or a
// rolling upgrade where old replicas still sign RS256) leaves every token
// already issued verifiable until it expires.
type tokenKeys struct {
	alg    jwa.SignatureAlgorithm
	sign   jwk.Key
	public jwk.Set

	// header is the encoded protected header of every token (alg, kid,
	// typ JWT); signer and raw sign with jwx's signer and the raw private
	// key, so that a token costs one JSON marshal and one signature.
	header string
	signer jws.Signer
	raw    any
}

// compact signs payload as a JWS in compact serialization.
func (t *tokenKeys) compact(payload []byte) ([]byte, error) {
	enc := base64.RawURLEncoding
	input := make([]byte, 0, len(t.header)+1+enc.EncodedLen(len(payload)))
	input = append(input, t.header...)
	input = append(input, '.')
	input = enc.AppendEncode(input, payload)
	sig, err := t.signer.Sign(input, t.raw)
	if err != nil {
		return nil, err
	}
	return enc.AppendEncode(append(input, '.'), sig), nil
}

func newTokenKeys(alg string, key *rsa.PrivateKey, cert *x509.Certificate) (*tokenKeys, error) {
	if alg == "" {
		alg = TokenES256
	}
	rsaKid := hex.EncodeToString(cert.SubjectKeyId)
	if rsaKid == "" {
		rsaKid = cert.SerialNumber.Text(16)
	}
	rk, err := namedKey(key, rsaKid, jwa.RS256)
	if err != nil {
		return nil, err
	}
	ec, err := deriveP256(key)
	if err != nil {
		return nil, err
	}
	ek, err := thumbKey(ec, jwa.ES256)
	if err != nil {
		return nil, err
	}
	t := &tokenKeys{public: jwk.NewSet()}
	others := []jwk.Key{rk, ek}
	switch alg {
	case TokenES256:
		t.alg, t.sign, others = jwa.ES256, ek, []jwk.Key{rk}
	case TokenRS256:
		t.alg, t.sign, others = jwa.RS256, rk, []jwk.Key{ek}
	case TokenEdDSA:
		seed, err := derive(key, "ponte spid hand-off token EdDSA", ed25519.SeedSize)
		if err != nil {
			return nil, err
		}
		if t.sign, err = thumbKey(ed25519.NewKeyFromSeed(seed), jwa.EdDSA); err != nil {
			return nil, err
		}
		t.alg = jwa.EdDSA
	default:
		return nil, fmt.Errorf("spid: token algorithm %q is not one of %v", alg, TokenAlgs)
	}
	hdr, err := json.Marshal(map[string]string{"alg": t.alg.String(), "kid": t.sign.KeyID(), "typ": "JWT"})
	if err != nil {
		return nil, err
	}
	t.header = base64.RawURLEncoding.EncodeToString(hdr)
	if t.signer, err = jws.NewSigner(t.alg); err != nil {
		return nil, err
	}
	if err := t.sign.Raw(&t.raw); err != nil {
		return nil, err
	}
	for _, k := range append([]jwk.Key{t.sign}, others...) {
		pub, err := k.PublicKey()
		if err != nil {
			return nil, err
		}
		if err := t.public.AddKey(pub); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// derive is n bytes of HKDF-SHA256 keyed by the RSA private exponent.
func derive(key *rsa.PrivateKey, label string, n int) ([]byte, error) {
	return hkdf.Key(sha256.New, key.D.Bytes(), nil, label, n)
}

// deriveP256 derives the ES256 key; a candidate scalar outside [1, n-1]
// (odds about 2^-32) moves on to the next label.
func deriveP256(key *rsa.PrivateKey) (*ecdsa.PrivateKey, error) {
	for i := 0; ; i++ {
		b, err := derive(key, fmt.Sprintf("ponte spid hand-off token ES256 %d", i), 32)
		if err != nil {
			return nil, err
		}
		if k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), b); err == nil {
			return k, nil
		}
	}
}

func namedKey(raw any, kid string, alg jwa.SignatureAlgorithm) (jwk.Key, error) {
	k, err := jwk.FromRaw(raw)
	if err != nil {
		return nil, err
	}
	if err := k.Set(jwk.KeyIDKey, kid); err != nil {
		return nil, err
	}
	if err := k.Set(jwk.AlgorithmKey, alg); err != nil {
		return nil, err
	}
	if err := k.Set(jwk.KeyUsageKey, jwk.ForSignature); err != nil {
		return nil, err
	}
	return k, nil
}

// thumbKey names the key by its RFC 7638 thumbprint.
func thumbKey(raw any, alg jwa.SignatureAlgorithm) (jwk.Key, error) {
	k, err := jwk.FromRaw(raw)
	if err != nil {
		return nil, err
	}
	tp, err := k.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, err
	}
	return namedKey(raw, base64.RawURLEncoding.EncodeToString(tp), alg)
}

func (t *tokenKeys) jwks() ([]byte, error) { return json.Marshal(t.public) }
