// Package conformance runs the upstream Gateway API conformance suite against Pylon.
//
// Run it through scripts/conformance, which starts the API server, the controller manager, the
// pod runner and Pylon and passes the flags (gateway class, profile, features, report path).
package conformance

import (
	"testing"

	"sigs.k8s.io/gateway-api/conformance"
)

func TestConformance(t *testing.T) {
	conformance.RunConformance(t)
}
