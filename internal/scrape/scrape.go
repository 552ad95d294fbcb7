// Package scrape reads the manager's metrics as an authorised scraper does: a service
// account bound to the netconform-metrics-reader ClusterRole, a token from TokenRequest,
// and HTTPS. The end-to-end suites' Prometheus, the benchmark and the metrics server's
// own tests use it.
package scrape

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// ReaderRole is the ClusterRole that may get /metrics (config/rbac/metrics_reader_role.yaml).
const ReaderRole = "netconform-metrics-reader"

// Identity is a service account that scrapes the manager.
type Identity struct {
	Namespace, Name string
	// Labels go on the service account and its ClusterRoleBinding, so that a clean-up can
	// find them.
	Labels map[string]string
}

// bindingName is the ClusterRoleBinding's name: unique to the service account.
func (id Identity) bindingName() string {
	return fmt.Sprintf("netconform-metrics-reader-%s-%s", id.Namespace, id.Name)
}

// CreateServiceAccount creates the identity's service account, which may already exist.
func CreateServiceAccount(ctx context.Context, cs kubernetes.Interface, id Identity) error {
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: id.Name, Namespace: id.Namespace, Labels: id.Labels}}
	_, err := cs.CoreV1().ServiceAccounts(id.Namespace).Create(ctx, sa, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating service account %s/%s: %w", id.Namespace, id.Name, err)
	}
	return nil
}

// Grant creates the service account and binds it to ReaderRole.
func Grant(ctx context.Context, cs kubernetes.Interface, id Identity) error {
	if err := CreateServiceAccount(ctx, cs, id); err != nil {
		return err
	}
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: id.bindingName(), Labels: id.Labels},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: ReaderRole},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: id.Namespace, Name: id.Name}},
	}
	_, err := cs.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("binding %s/%s to ClusterRole %s: %w", id.Namespace, id.Name, ReaderRole, err)
	}
	return nil
}

// Token is a token of the identity's service account, valid for ttl.
func Token(ctx context.Context, cs kubernetes.Interface, id Identity, ttl time.Duration) (string, error) {
	seconds := int64(ttl.Seconds())
	req := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &seconds}}
	resp, err := cs.CoreV1().ServiceAccounts(id.Namespace).CreateToken(ctx, id.Name, req, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("requesting a token for %s/%s: %w", id.Namespace, id.Name, err)
	}
	return resp.Status.Token, nil
}

// Response is what the metrics server answered.
type Response struct {
	Status int
	Body   []byte
}

// Get fetches url, sending token as a bearer token unless it is empty. It accepts the
// manager's self-signed certificate: the scrapers it serves run beside the cluster they
// test, as the suites' Prometheus does (insecure_skip_verify).
func Get(ctx context.Context, url, token string) (Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return Response{}, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	c := &http.Client{Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // the manager's default certificate is self-signed
		DisableKeepAlives: true,                                  // one request per client: no connection left open
	}}
	resp, err := c.Do(req)
	if err != nil {
		return Response{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return Response{Status: resp.StatusCode, Body: body}, err
}
