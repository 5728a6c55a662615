// quantity-oracle prints, for each line of stdin, what k8s.io/apimachinery's resource.ParseQuantity makes of it:
// {"q": line, "value": Value() as a decimal string, "sign": Sign(), "approx": AsApproximateFloat64()} or
// {"q": line, "error": message}. It produces
// test/fixtures/quantity/quantities.json (test/core/quantity-expectations.ts); tlr's parser is checked against it.
package main

import (
	"bufio"
	"encoding/json"
	"math"
	"os"
	"strconv"

	"k8s.io/apimachinery/pkg/api/resource"
)

type result struct {
	Q     string `json:"q"`
	Value string `json:"value,omitempty"`
	Sign  int    `json:"sign"`
	// The value as a float64, to tell an int64 that overflowed (Value() wraps or clamps) from a true one.
	Approx float64 `json:"approx,omitempty"`
	Error  string  `json:"error,omitempty"`
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	var out []result
	for in.Scan() {
		line := in.Text()
		q, err := resource.ParseQuantity(line)
		if err != nil {
			out = append(out, result{Q: line, Error: err.Error()})
			continue
		}
		approx := q.AsApproximateFloat64()
		if math.IsInf(approx, 0) {
			approx = math.Copysign(math.MaxFloat64, approx) // JSON has no infinity: as large as a float64 goes
		}
		out = append(out, result{Q: line, Value: strconv.FormatInt(q.Value(), 10), Sign: q.Sign(), Approx: approx})
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		panic(err)
	}
}
