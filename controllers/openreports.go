package controllers

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	orv1 "github.com/openreports/reports-api/apis/openreports.io/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/internal/openreports"
)

// Event reasons of the OpenReports reports (--openreports).
const (
	// EventOpenReportsMissing: the ClusterReport CRD is not installed.
	EventOpenReportsMissing = "OpenReportsMissing"
	// EventReportNotOwned: a ClusterReport of the report's name was made by someone else.
	EventReportNotOwned = "ReportNotOwned"
	// EventReportNotWritten: writing the report failed (denied, or the API server failed).
	EventReportNotWritten = "ReportNotWritten"
)

// reportWriteTimeout bounds writing one report.
const reportWriteTimeout = 30 * time.Second

// openReportsCRD names the CustomResourceDefinition the reports need.
const openReportsCRD = "clusterreports.openreports.io"

// reportsWritten remembers, per test, the report last written, so that a reconcile
// writes only when the status says something new. RBAC for the reports is not in the
// markers: it comes with the config/openreports component, for managers that turn
// --openreports on.
type reportsWritten struct{ sync.Map }

// syncReport writes the test's OpenReports report when --openreports is on and the
// status holds something the report does not. A failure leaves the results on the
// status, says why in an event, and is tried again at the test's next reconcile: it
// never fails the reconcile.
func (r *ReachabilityTestReconciler) syncReport(ctx context.Context, test *v1alpha1.ReachabilityTest) {
	// During a run the status shows the last run, which the report already holds; and a
	// cache that still shows the run after it completed would write it back.
	if !r.Options.OpenReports || test.Status.ActiveRun != nil {
		return
	}
	want := openreports.Build(test)
	if want == nil {
		return
	}
	if last, ok := r.reports.Load(test.Name); ok && openreports.Current(last.(*orv1.ClusterReport), want) {
		return
	}
	// The run is over and on the status: a manager stopping now (the gate stops its own
	// as soon as the runs complete) still writes its report.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), reportWriteTimeout)
	defer cancel()
	err := r.putReport(wctx, test, want)
	if err == nil {
		r.reports.Store(test.Name, want)
		return
	}
	r.reports.Delete(test.Name)
	reason, msg := reportFailure(err)
	ctrl.LoggerFrom(ctx).Info("Cannot write the OpenReports report", "reachabilityTest", klog.KObj(test), "report", want.Name, "reason", reason, "err", err.Error())
	r.Events.Eventf(test, nil, corev1.EventTypeWarning, reason, "WriteReport", "%s", truncateMessage(msg))
}

// putReport creates the report or replaces the manager's own. It reads the existing
// one from the API server (no cache, so no watch on reports) only to learn whose it is.
func (r *ReachabilityTestReconciler) putReport(ctx context.Context, test *v1alpha1.ReachabilityTest, want *orv1.ClusterReport) error {
	have := &orv1.ClusterReport{}
	err := r.APIReader.Get(ctx, client.ObjectKey{Name: want.Name}, have)
	switch {
	case apierrors.IsNotFound(err):
		err = r.Client.Create(ctx, want.DeepCopy())
		if apierrors.IsNotFound(err) {
			return &meta.NoKindMatchError{GroupKind: schema.GroupKind{Group: orv1.GroupName, Kind: "ClusterReport"}}
		}
		return err
	case err != nil:
		return err
	}
	if err := openreports.Trusted(have, test); err != nil {
		return notOwnedError{err}
	}
	if openreports.Current(have, want) {
		return nil
	}
	update := want.DeepCopy()
	update.ResourceVersion = have.ResourceVersion
	return r.Client.Update(ctx, update)
}

type notOwnedError struct{ error }

// reportFailure is the event reason and message of a failed write, with the fix.
func reportFailure(err error) (string, string) {
	var notOwned notOwnedError
	switch {
	case meta.IsNoMatchError(err):
		return EventOpenReportsMissing, fmt.Sprintf("--openreports is on but the CRD %s is not installed: install it from github.com/openreports/reports-api (config/crd), or turn --openreports off; the results stay on this test's status", openReportsCRD)
	case errors.As(err, &notOwned):
		return EventReportNotOwned, fmt.Sprintf("The report was not written: %v. The manager neither reads nor overwrites a report it did not make: delete it, and the next reconcile writes netconform's", notOwned.error)
	case apierrors.IsForbidden(err):
		return EventReportNotWritten, fmt.Sprintf("The manager may not write its report: %v. Apply the config/openreports component, which grants it get, create and update on %s", err, openReportsCRD)
	}
	return EventReportNotWritten, fmt.Sprintf("The report was not written: %v; the next reconcile tries again", err)
}
