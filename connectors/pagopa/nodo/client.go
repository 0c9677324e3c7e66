package nodo

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/ponte-pa/ponte/connectors/pagopa"
	"github.com/ponte-pa/ponte/schemas/contracts/pafornode"
)

// Client calls an EC's SOAP endpoint the way the Nodo does, and like the
// Nodo refuses an answer that breaks the paForNode schema. KO answers come
// back as the response together with a *FaultError, so that
// errors.Is(err, ErrDuplicate) works.
type Client struct {
	URL        string
	BrokerID   string // idBrokerPA sent
	StationID  string // idStation sent
	HTTPClient *http.Client
}

// NewClient returns a client for the EC endpoint url. A nil hc means a
// client with a 30 s timeout.
func NewClient(url, brokerID, stationID string, hc *http.Client) *Client {
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	return &Client{URL: url, BrokerID: brokerID, StationID: stationID, HTTPClient: hc}
}

func (c *Client) header(org string) Header {
	return Header{IDPA: org, IDBrokerPA: c.BrokerID, IDStation: c.StationID}
}

func (c *Client) call(ctx context.Context, op string, req, resp any) error {
	body, err := envelope(requestElem[op], req)
	if err != nil {
		return err
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	hr.Header.Set("Content-Type", "text/xml; charset=utf-8")
	hr.Header.Set("SOAPAction", `"`+op+`"`)
	res, err := c.HTTPClient.Do(hr)
	if err != nil {
		return fmt.Errorf("nodo %s: %w", op, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, DefaultMaxBodyBytes+1))
	if err != nil {
		return fmt.Errorf("nodo %s: %w", op, err)
	}
	if len(data) > DefaultMaxBodyBytes {
		return fmt.Errorf("nodo %s: response over %d bytes", op, DefaultMaxBodyBytes)
	}
	// The Nodo drops an answer that breaks the schema; so does this client.
	if _, err := pafornode.CheckEnvelope(data); err != nil {
		return fmt.Errorf("nodo %s: HTTP %d: the answer breaks paForNode.xsd: %w", op, res.StatusCode, err)
	}
	if err := parseResponse(data, responseElem[op], resp); err != nil {
		return fmt.Errorf("nodo %s: HTTP %d: %w", op, res.StatusCode, err)
	}
	return nil
}

func koErr(outcome string, f *Fault) error {
	if outcome == OutcomeOK {
		return nil
	}
	if f == nil {
		return &FaultError{Code: CodeSystemError, Description: "KO without a fault block"}
	}
	return &FaultError{Code: f.FaultCode, Description: f.Description}
}

// Verify calls paVerifyPaymentNotice.
func (c *Client) Verify(ctx context.Context, org, nav string) (*VerifyResponse, error) {
	var out VerifyResponse
	if err := c.call(ctx, OpVerify, &VerifyRequest{Header: c.header(org), QRCode: QRCode{FiscalCode: org, NoticeNumber: nav}}, &out); err != nil {
		return nil, err
	}
	return &out, koErr(out.Outcome, out.Fault)
}

// GetPaymentV2 calls paGetPaymentV2; amountCents 0 sends no amount.
func (c *Client) GetPaymentV2(ctx context.Context, org, nav string, amountCents int64) (*GetPaymentResponse, error) {
	req := &GetPaymentRequest{Header: c.header(org), QRCode: QRCode{FiscalCode: org, NoticeNumber: nav}, TransferType: "PAGOPA"}
	if amountCents != 0 {
		a := pagopa.Amount(amountCents)
		req.Amount = &a
	}
	var out GetPaymentResponse
	if err := c.call(ctx, OpGetPaymentV2, req, &out); err != nil {
		return nil, err
	}
	if err := koErr(out.Outcome, out.Fault); err != nil {
		return &out, err
	}
	if out.Data == nil {
		return &out, fmt.Errorf("nodo %s: OK without data", OpGetPaymentV2)
	}
	return &out, nil
}

// SendRTV2 calls paSendRTV2 with receipt r.
func (c *Client) SendRTV2(ctx context.Context, r pagopa.Receipt) (*SendRTResponse, error) {
	var out SendRTResponse
	if err := c.call(ctx, OpSendRTV2, &SendRTRequest{Header: c.header(r.OrgFiscalCode), Receipt: pagopa.NewXMLReceipt(r)}, &out); err != nil {
		return nil, err
	}
	return &out, koErr(out.Outcome, out.Fault)
}
