package cluster

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestParseAgentPlacement(t *testing.T) {
	p, err := ParseAgentPlacement("regcred, other", "pool=netpol", "dedicated=netpol:NoSchedule,gpu:NoExecute", "limits.memory=512Mi,requests.cpu=50m")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.PullSecrets) != 2 || p.NodeSelector["kubernetes.io/os"] != "linux" || p.NodeSelector["pool"] != "netpol" {
		t.Errorf("placement %+v", p)
	}
	if len(p.Tolerations) != 2 || p.Tolerations[0].Operator != corev1.TolerationOpEqual || p.Tolerations[1].Operator != corev1.TolerationOpExists {
		t.Errorf("tolerations %+v", p.Tolerations)
	}
	if got := p.Resources.Limits.Memory().String(); got != "512Mi" {
		t.Errorf("memory limit %s", got)
	}
	if got := p.Resources.Requests.Memory().String(); got != "32Mi" {
		t.Errorf("the default memory request was lost: %s", got)
	}
	if DefaultAgentResources.Limits.Memory().String() != "256Mi" {
		t.Error("parsing changed the defaults")
	}
	_, err = ParseAgentPlacement("", "novalue", ":NoSchedule,key:Sometimes", "cpu=1")
	for _, want := range []string{`node selector "novalue"`, `toleration ":NoSchedule"`, `effect "Sometimes"`, `resource "cpu=1"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
}
