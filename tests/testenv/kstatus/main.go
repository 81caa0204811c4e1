// Command kstatus reads one Kubernetes object (JSON or YAML) on stdin and
// prints how kstatus — sigs.k8s.io/cli-utils/pkg/kstatus/status, the library
// Flux's health checks and kubectl-side tools use — reads it:
//
//	{"status":"Current","message":"Resource is Ready"}
//
// The tests in tests/gitops.rs build it with `go build` and pipe objects they
// fetched from the test control plane into it. Exit status 1 means the input
// could not be read or kstatus returned an error; the verdict itself is always
// printed with exit status 0.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/yaml"
)

type verdict struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

func main() {
	raw, err := io.ReadAll(os.Stdin)
	if err != nil {
		fail("reading stdin: %v", err)
	}
	// YAML is a superset of JSON: one decoder reads both.
	doc, err := yaml.YAMLToJSON(raw)
	if err != nil {
		fail("parsing the object: %v", err)
	}
	// UnmarshalJSON keeps integers as int64, which kstatus's accessors expect
	// (encoding/json would make metadata.generation a float64).
	obj := &unstructured.Unstructured{}
	if err := obj.UnmarshalJSON(doc); err != nil {
		fail("decoding the object: %v", err)
	}
	res, err := status.Compute(obj)
	if err != nil {
		fail("computing the status: %v", err)
	}
	out, _ := json.Marshal(verdict{Status: res.Status.String(), Message: res.Message})
	fmt.Println(string(out))
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "kstatus: "+format+"\n", args...)
	os.Exit(1)
}
