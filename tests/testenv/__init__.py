"""Local real services for ecpctl tests and demos.
Kubernetes control plane (etcd, kube-apiserver, controllers, scheduler, kwok nodes) built from source."""
