package legacy

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// vmHWM returns the peak resident set size of the process in bytes (Linux), or 0.
func vmHWM() float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			if err != nil {
				return 0 // unknown, like an unreadable file
			}
			return kb * 1024
		}
	}
	return 0
}

// BenchmarkCSVMillionRows streams a generated 1,000,000-row CSV (about 120 MB, written
// row by row to b.TempDir()) and reports rows/s, the process's peak RSS and the heap in
// use after a read: memory stays flat in the file size (only an 8-byte hash per id is
// kept for duplicate detection).
func BenchmarkCSVMillionRows(b *testing.B) {
	const rows = 1_000_000
	p := filepath.Join(b.TempDir(), "million.csv")
	f, err := os.Create(p)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	w.WriteString("codice_fiscale;cognome;nome;email;importo;scadenza;descrizione;id_pratica\n")
	cfs := []string{"RSSMRA85T10A562S", "BNCGLI90A41H501E", "RSSMRA85T10A562X", "12345670017"}
	for i := 0; i < rows; i++ {
		fmt.Fprintf(w, "%s;Rossi;Mario;mario.rossi@example.it;%d,%02d;31/05/2026;TARI 2026 - rata unica utenza domestica;TARI-2026-%08d\n", cfs[i%4], 1+i%5000, i%100, i)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	fi, err := f.Stat()
	if err != nil {
		b.Fatal(err)
	}
	f.Close()
	src, err := NewCSVSource(CSVConfig{CSVFileConfig: CSVFileConfig{Path: p, Delimiter: ";"}}, "")
	if err != nil {
		b.Fatal(err)
	}
	runtime.GC()
	b.SetBytes(fi.Size())
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		st, err := src.Read(context.Background(), func(Debtor) error { return nil }, func(Reject) error { return nil })
		if err != nil || st.Read != rows || st.Valid != rows/4*3 {
			b.Fatalf("%+v %v", st, err)
		}
	}
	b.StopTimer()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(rows*b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(vmHWM()/(1<<20), "peak-RSS-MB")
	b.ReportMetric(float64(ms.Sys)/(1<<20), "sys-MB")
	b.ReportMetric(float64(fi.Size())/(1<<20), "file-MB")
}
