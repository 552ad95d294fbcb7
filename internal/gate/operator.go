package gate

import (
	"context"
	"fmt"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// OperatorRunning tells whether an installed operator runs ReachabilityTests now: its
// leader-election lease (lease, in namespace) is held and was renewed within its
// duration. Then the gate waits on the operator's runs instead of running the tests a
// second time in this process. A lease the gate may not read counts as no operator, and
// says so.
func (g *Gate) OperatorRunning(ctx context.Context, namespace, lease string) (bool, error) {
	var l coordinationv1.Lease
	err := g.client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: lease}, &l)
	switch {
	case apierrors.IsNotFound(err):
		return false, nil
	case apierrors.IsForbidden(err):
		g.say("cannot read the operator's lease %s/%s (%v): running the tests in this process; if the operator is installed, pass --wait-only or grant get on that lease",
			namespace, lease, err)
		return false, nil
	case err != nil:
		return false, fmt.Errorf("reading the operator's lease %s/%s: %w", namespace, lease, err)
	}
	if !leaseHeld(&l, time.Now()) {
		return false, nil
	}
	g.say("the operator is running (lease %s/%s held by %s): waiting for its runs instead of running the tests in this process",
		namespace, lease, *l.Spec.HolderIdentity)
	return true, nil
}

// leaseHeld: a holder renewed the lease within its duration. A released lease has no
// holder.
func leaseHeld(l *coordinationv1.Lease, now time.Time) bool {
	s := l.Spec
	if s.HolderIdentity == nil || *s.HolderIdentity == "" || s.RenewTime == nil || s.LeaseDurationSeconds == nil {
		return false
	}
	return now.Before(s.RenewTime.Add(time.Duration(*s.LeaseDurationSeconds) * time.Second))
}
