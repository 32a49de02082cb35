package metrics

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestStoreWriteErrors(t *testing.T) {
	reg := prometheus.NewRegistry()
	n := uint64(3)
	if _, err := New(reg, Sources{StoreWriteErrors: func() uint64 { return n }}); err != nil {
		t.Fatal(err)
	}
	want := `
# HELP disclosured_store_write_errors_total Store commits that failed (disk full, I/O error); nothing of them was kept.
# TYPE disclosured_store_write_errors_total counter
disclosured_store_write_errors_total 3
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "disclosured_store_write_errors_total"); err != nil {
		t.Error(err)
	}
}
