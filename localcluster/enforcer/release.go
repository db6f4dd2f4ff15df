package enforcer

// Versioned is a driver that runs a released enforcer.
type Versioned interface {
	// Version is the release the driver builds.
	Version() string
}

func (KubeRouter) Version() string          { return kubeRouterVersion }
func (KubeNetworkPolicies) Version() string { return knpVersion }

// CNI names a driver's enforcer the way the suite's NETPOL_CNI takes it,
// NAME or NAME@VERSION: enforcers running as host processes are invisible
// to the suite's detection, which reads the cluster's objects.
func CNI(d Driver) string {
	if v, ok := d.(Versioned); ok {
		return d.Name() + "@" + v.Version()
	}
	return d.Name()
}

func (Calico) Version() string { return calicoRelease }

func (Cilium) Version() string { return ciliumVersion }
