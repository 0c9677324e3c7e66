package campaign

import (
	"context"
	"fmt"
)

// Rata is one installment of an item's debt position as created on GPD: a
// payment option with its own IUV and notice number.
type Rata struct {
	N           int // 1-based
	IUV, NAV    string
	AmountCents int64
	DueDate     string // YYYY-MM-DD
}

// rataKey is the IUV allocation key of rata n of a debt position.
func rataKey(iupd string, n int) string { return fmt.Sprintf("%s-R%02d", iupd, n) }

// attachRate fills the Rate of items (all of one campaign) from the store.
func (s *Store) attachRate(ctx context.Context, campaignID string, items []Item) error {
	if len(items) == 0 {
		return nil
	}
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(`SELECT seq, n, iuv, nav, amount_cents, due_date FROM campaign_installments
		WHERE campaign_id = ? AND seq >= ? AND seq <= ? ORDER BY seq, n`), campaignID, items[0].Seq, items[len(items)-1].Seq)
	if err != nil {
		return err
	}
	defer rows.Close()
	idx := make(map[int]int, len(items))
	for i, it := range items {
		idx[it.Seq] = i
	}
	for rows.Next() {
		var seq int
		var r Rata
		if err := rows.Scan(&seq, &r.N, &r.IUV, &r.NAV, &r.AmountCents, &r.DueDate); err != nil {
			return err
		}
		if i, ok := idx[seq]; ok {
			items[i].Rate = append(items[i].Rate, r)
		}
	}
	return rows.Err()
}

// HasRate reports whether a campaign's positions have installments.
func (s *Store) HasRate(ctx context.Context, campaignID string) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, s.db.Rebind(`SELECT COUNT(*) FROM (SELECT 1 FROM campaign_installments
		WHERE campaign_id = ? LIMIT 1) AS x`), campaignID).Scan(&n)
	return n > 0, err
}

// RataOwner is the item an installment IUV belongs to.
type RataOwner struct {
	CampaignID string
	Seq        int
	Rata       Rata
}

// RataByIUV finds the installments with the given IUVs.
func (s *Store) RataByIUV(ctx context.Context, iuvs []string) (map[string]RataOwner, error) {
	out := map[string]RataOwner{}
	for i := 0; i < len(iuvs); i += 400 {
		chunk := iuvs[i:min(i+400, len(iuvs))]
		args := make([]any, len(chunk))
		ph := make([]byte, 0, 2*len(chunk))
		for k, v := range chunk {
			args[k] = v
			if k > 0 {
				ph = append(ph, ',')
			}
			ph = append(ph, '?')
		}
		rows, err := s.db.QueryContext(ctx, s.db.Rebind(`SELECT campaign_id, seq, n, iuv, nav, amount_cents, due_date
			FROM campaign_installments WHERE iuv IN (`+string(ph)+`)`), args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var o RataOwner
			if err := rows.Scan(&o.CampaignID, &o.Seq, &o.Rata.N, &o.Rata.IUV, &o.Rata.NAV, &o.Rata.AmountCents, &o.Rata.DueDate); err != nil {
				rows.Close()
				return nil, err
			}
			out[o.Rata.IUV] = o
		}
		if err := rows.Close(); err != nil {
			return nil, err
		}
	}
	return out, nil
}
