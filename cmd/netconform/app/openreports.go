package app

import (
	"fmt"
	"io"

	orv1 "github.com/openreports/reports-api/apis/openreports.io/v1alpha1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
)

// noteOpenReportsMissing tells a gate run with --openreports, before it applies its
// tests, that the cluster has no ClusterReport CRD: the run goes on and prints its
// results, but writes no report (each test also gets an OpenReportsMissing event).
func noteOpenReportsMissing(cfg *rest.Config, stderr io.Writer) {
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return
	}
	mapper, err := apiutil.NewDynamicRESTMapper(cfg, hc)
	if err != nil {
		return
	}
	_, err = mapper.RESTMapping(schema.GroupKind{Group: orv1.GroupName, Kind: "ClusterReport"})
	if meta.IsNoMatchError(err) {
		fmt.Fprintln(stderr, "netconform run: --openreports: the CRD clusterreports.openreports.io is not installed, so no report is written: install it from github.com/openreports/reports-api (config/crd), or drop --openreports")
	}
}
