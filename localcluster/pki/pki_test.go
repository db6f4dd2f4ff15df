package pki

import (
	"crypto/x509"
	"net"
	"testing"
)

func TestIssueReusesMatchingAndReissuesChanged(t *testing.T) {
	dir := t.TempDir()
	ca, err := LoadOrCreateCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	leaf := Leaf{Name: "apiserver", CommonName: "kube-apiserver", IPs: []net.IP{net.ParseIP("10.96.0.1")}, DNSNames: []string{"kubernetes"}, Server: true}
	certPath, keyPath, err := ca.Issue(dir, leaf)
	if err != nil {
		t.Fatal(err)
	}
	first, _, err := load(certPath, keyPath)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	if _, err := first.Verify(x509.VerifyOptions{Roots: pool, DNSName: "kubernetes"}); err != nil {
		t.Fatalf("issued certificate does not verify: %v", err)
	}

	ca2, err := LoadOrCreateCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !ca2.Cert.Equal(ca.Cert) {
		t.Fatal("LoadOrCreateCA created a new CA instead of reusing it")
	}
	if _, _, err := ca2.Issue(dir, leaf); err != nil {
		t.Fatal(err)
	}
	same, _, _ := load(certPath, keyPath)
	if !same.Equal(first) {
		t.Error("unchanged leaf was reissued")
	}

	leaf.IPs = append(leaf.IPs, net.ParseIP("192.0.2.2"))
	if _, _, err := ca2.Issue(dir, leaf); err != nil {
		t.Fatal(err)
	}
	changed, _, _ := load(certPath, keyPath)
	if changed.Equal(first) || len(changed.IPAddresses) != 2 {
		t.Errorf("leaf with a new IP was not reissued: %v", changed.IPAddresses)
	}
}
