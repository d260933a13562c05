module pylon.test/conformance

go 1.26.0

require sigs.k8s.io/gateway-api/conformance v1.6.1
