// monitoring-validate: decode ServiceMonitor and PodMonitor manifests strictly into the Prometheus Operator's
// own Go types (unknown or mistyped fields are errors). Reads YAML documents from the files given.
package main

import (
	"bytes"
	"fmt"
	"io"
	"os"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	yamlv3 "gopkg.in/yaml.v3"
	"sigs.k8s.io/yaml"
)

func main() {
	failures, checked := 0, 0
	for _, path := range os.Args[1:] {
		data, err := os.ReadFile(path)
		if err != nil {
			fmt.Println("ERROR", err)
			os.Exit(2)
		}
		decoder := yamlv3.NewDecoder(bytes.NewReader(data))
		for {
			var node map[string]interface{}
			if err := decoder.Decode(&node); err == io.EOF {
				break
			} else if err != nil {
				fmt.Println("ERROR", path, err)
				os.Exit(2)
			}
			if node == nil {
				continue
			}
			doc, _ := yaml.Marshal(node)
			kind, _ := node["kind"].(string)
			var target interface{}
			switch kind {
			case "ServiceMonitor":
				target = &monitoringv1.ServiceMonitor{}
			case "PodMonitor":
				target = &monitoringv1.PodMonitor{}
			default:
				continue
			}
			checked++
			if err := yaml.UnmarshalStrict(doc, target); err != nil {
				failures++
				fmt.Printf("ERROR %s: %s: %v\n", path, kind, err)
			}
		}
	}
	fmt.Printf("%d monitors checked, %d invalid\n", checked, failures)
	if failures > 0 {
		os.Exit(1)
	}
}
