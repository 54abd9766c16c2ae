package daemon

// OpenPlane is the data plane Run opens, and KernelPlaneWanted what
// GIF_KERNEL_PLANE asks of it, for package daemon_test.
var (
	OpenPlane         = openPlane
	KernelPlaneWanted = kernelPlaneWanted
)
