package api

import (
	"fmt"
	"net/http"
	"sort"

	"github.com/medrelay/medrelay/gateway/store"
)

// metrics writes Prometheus text: transfers and their instance counts by
// side and state.
func (o Options) metrics(w http.ResponseWriter, _ *http.Request) {
	trs, err := Transfers(o.Store, "")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	type key struct{ side, state string }
	n := map[key]int{}
	var inst, stored, present, failed map[string]int = map[string]int{}, map[string]int{}, map[string]int{}, map[string]int{}
	var bytes = map[string]int64{}
	for _, tr := range trs {
		n[key{tr.Side, tr.State}]++
		inst[tr.Side] += tr.Instances
		stored[tr.Side] += tr.Stored
		present[tr.Side] += tr.AlreadyPresent
		failed[tr.Side] += tr.Failed
		bytes[tr.Side] += tr.Bytes
	}
	keys := make([]key, 0, len(n))
	for k := range n {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].side+keys[i].state < keys[j].side+keys[j].state })
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	fmt.Fprintln(w, "# HELP dicomgw_transfers Study transfers by side and state.")
	fmt.Fprintln(w, "# TYPE dicomgw_transfers gauge")
	for _, k := range keys {
		fmt.Fprintf(w, "dicomgw_transfers{side=%q,state=%q} %d\n", k.side, k.state, n[k])
	}
	for _, m := range []struct {
		name, help string
		v          map[string]int
	}{
		{"dicomgw_instances", "Instances in the transfers' manifests (or received so far).", inst},
		{"dicomgw_instances_stored", "Instances stored at the destination, per the receipts.", stored},
		{"dicomgw_instances_already_present", "Instances the destination had already.", present},
		{"dicomgw_instances_failed", "Instances reported failed.", failed},
	} {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s gauge\n", m.name, m.help, m.name)
		for _, side := range []string{store.Outgoing, store.Incoming} {
			fmt.Fprintf(w, "%s{side=%q} %d\n", m.name, side, m.v[side])
		}
	}
	fmt.Fprintln(w, "# HELP dicomgw_bytes Bytes in the transfers.\n# TYPE dicomgw_bytes gauge")
	for _, side := range []string{store.Outgoing, store.Incoming} {
		fmt.Fprintf(w, "dicomgw_bytes{side=%q} %d\n", side, bytes[side])
	}
}
