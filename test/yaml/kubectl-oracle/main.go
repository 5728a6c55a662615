// kubectl-oracle: how kubectl reads YAML, for the tests' expected values. For each YAML file named on the command
// line, it splits documents as kubectl does (k8s.io/apimachinery's YAML reader) and converts each with
// sigs.k8s.io/yaml.YAMLToJSON (go.yaml.in/yaml/v2 underneath), printing one JSON object per file:
// {"file": ..., "docs": [{"json": "..."} | {"error": "..."}]}, documents that are empty or null left out as kubectl
// does. With -scalars, reads a JSON array of YAML texts on stdin and prints their YAMLToJSON results in order.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

type result struct {
	JSON  *string `json:"json,omitempty"`
	Error *string `json:"error,omitempty"`
}

func convert(doc []byte) result {
	j, err := yaml.YAMLToJSON(doc)
	if err != nil {
		msg := err.Error()
		return result{Error: &msg}
	}
	s := string(j)
	return result{JSON: &s}
}

func main() {
	out := json.NewEncoder(os.Stdout)
	if len(os.Args) > 1 && os.Args[1] == "-scalars" {
		var texts []string
		if err := json.NewDecoder(os.Stdin).Decode(&texts); err != nil {
			panic(err)
		}
		results := make([]result, 0, len(texts))
		for _, t := range texts {
			results = append(results, convert([]byte(t)))
		}
		_ = out.Encode(results)
		return
	}
	for _, file := range os.Args[1:] {
		data, err := os.ReadFile(file)
		if err != nil {
			panic(err)
		}
		reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
		docs := []result{}
		for {
			doc, err := reader.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				msg := err.Error()
				docs = append(docs, result{Error: &msg})
				break
			}
			r := convert(doc)
			if r.JSON != nil && (*r.JSON == "null" || len(bytes.TrimSpace([]byte(*r.JSON))) == 0) {
				continue
			}
			docs = append(docs, r)
		}
		_ = out.Encode(map[string]interface{}{"file": file, "docs": docs})
	}
}
