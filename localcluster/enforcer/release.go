package enforcer

// Versioned is a driver that runs a released enforcer.
type Versioned interface {
	// Version is the release the driver builds.
	Version() string
}

func (KubeRouter) Version() string { return kubeRouterVersion }

// projectNamed is a driver whose enforcer the suite knows by another name
// than the driver's: one project run two ways.
type projectNamed interface {
	// Project is the suite's name for it (cni.Detection.Name).
	Project() string
}

// CNI names a driver's enforcer the way the suite's NETPOL_CNI takes it,
// NAME or NAME@VERSION: enforcers running as host processes are invisible
// to the suite's detection, which reads the cluster's objects.
func CNI(d Driver) string {
	name := d.Name()
	if p, ok := d.(projectNamed); ok {
		name = p.Project()
	}
	if v, ok := d.(Versioned); ok {
		return name + "@" + v.Version()
	}
	return name
}

func (Calico) Version() string { return calicoRelease }

func (Cilium) Version() string { return ciliumVersion }
