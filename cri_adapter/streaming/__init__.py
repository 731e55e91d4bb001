"""The streaming server: exec, attach and port-forward for kubelet and crictl (Kubernetes'
remotecommand and portforward protocols over SPDY/3.1)."""
