"""pyruntime-cri: a Kubernetes CRI v1 runtime that runs pods on pyruntime.

Data flows one way, as in the runtime: a CRI request -> a pure conversion
(`convert`) -> a bundle on disk -> conmon and the OCI runtime's CLI -> records on
disk (`store`) that a restarted adapter reads back. grpc, protobuf and httpx are
imported here only, never by pyruntime's container path; the adapter talks to
pyruntime through its CLI (gRPC threads and fork do not mix).
"""
