package main

import (
	"bytes"
	"encoding/json"
	"math/rand"
	"strings"
	"testing"
	"unicode/utf8"
)

// selectAll reads data with r's selector in chunks of size n.
func selectWith(data []byte, sel selector, n int) ([]byte, error) {
	r := newStructuredReader(sel, "result", 1<<30)
	for at := 0; at < len(data); at += n {
		end := min(at+n, len(data))
		if err := r.push(data[at:end]); err != nil {
			return nil, err
		}
	}
	if err := r.end(); err != nil {
		return nil, err
	}
	return r.out, nil
}

// Tekton parses structured results with encoding/json into []string or map[string]string (ParamValue.UnmarshalJSON).
// Whatever the reader accepts, encoding/json accepts too, with the same element: the reader may refuse more (invalid
// UTF-8, lone surrogates, duplicate keys at seal time), never read another value.
func checkAgainstGo(t *testing.T, data []byte) {
	t.Helper()
	if len(data) > 0 && data[0] == '[' {
		var want []string
		goErr := json.Unmarshal(data, &want)
		for i := 0; i <= len(want); i++ {
			got, err := selectWith(data, selector{index: i}, 1+i%3)
			if err != nil {
				continue
			}
			if goErr != nil {
				t.Fatalf("%q: reader accepted [%d] = %q, encoding/json refused: %v", data, i, got, goErr)
			}
			if i >= len(want) || !bytes.Equal(got, []byte(want[i])) {
				t.Fatalf("%q: reader [%d] = %q, encoding/json %q", data, i, got, want)
			}
		}
		return
	}
	var want map[string]string
	goErr := json.Unmarshal(data, &want)
	for _, key := range []string{"a", "b", "k", "url"} {
		got, err := selectWith(data, selector{key: key, isKey: true}, 2)
		if err != nil {
			continue
		}
		if goErr != nil {
			t.Fatalf("%q: reader accepted .%s = %q, encoding/json refused: %v", data, key, got, goErr)
		}
		if w, ok := want[key]; !ok || !bytes.Equal(got, []byte(w)) {
			t.Fatalf("%q: reader .%s = %q, encoding/json %q", data, key, got, want)
		}
	}
}

func TestReaderAgreesWithEncodingJSON(t *testing.T) {
	seeds := []string{
		`["a","b"]`, `[ "a" , null ]`, "[]\n", `["\u00e9\ud83d\ude00\n\"\\\/"]`, `["a",1]`, `["a",["b"]]`, ` ["a"]`,
		`{"a":"x","b":null}`, `{"a":"1","a":"2"}`, `{"k":{"x":"y"}}`, `{"url":"u"} x`, `{"a" :"x" , "b":"y" }`,
		"[\"\xff\"]", `["\ud800"]`, `[nul]`, `["a",]`, `{"a":"b",}`, `[tru]`, "[\"a\tb\"]",
	}
	for _, s := range seeds {
		checkAgainstGo(t, []byte(s))
	}
	rng := rand.New(rand.NewSource(1))
	alphabet := []string{"a", "b", "k", "url", `"`, `\`, `\"`, `\n`, `\u00e9`, `\ud83d`, `\ude00`, ",", ":", "[", "]", "{", "}", " ", "null", "é", "\xff", "\x01", "1"}
	for i := 0; i < 20000; i++ {
		var b strings.Builder
		if i%2 == 0 {
			b.WriteString("[")
		} else {
			b.WriteString("{")
		}
		for j := rng.Intn(12); j > 0; j-- {
			b.WriteString(alphabet[rng.Intn(len(alphabet))])
		}
		checkAgainstGo(t, []byte(b.String()))
	}
	// Valid values of random strings: every element read back exactly.
	for i := 0; i < 2000; i++ {
		items := make([]string, 1+rng.Intn(5))
		for j := range items {
			runes := make([]rune, rng.Intn(8))
			for k := range runes {
				runes[k] = rune(rng.Intn(0x10ffff))
				if !utf8.ValidRune(runes[k]) {
					runes[k] = 'x'
				}
			}
			items[j] = string(runes)
		}
		data, _ := json.Marshal(items)
		for j, want := range items {
			got, err := selectWith(data, selector{index: j}, 1+j)
			if err != nil || string(got) != want {
				t.Fatalf("%s: [%d] = %q, %v; want %q", data, j, got, err, want)
			}
		}
	}
}

func TestSelectedElementOverTheLimit(t *testing.T) {
	r := newStructuredReader(selector{index: 0}, "result", 4)
	if err := r.push([]byte(`["abcde"]`)); err != nil {
		t.Fatal(err)
	}
	if err := r.end(); err != nil || !r.overLimit {
		t.Fatalf("expected the element to be over the limit, got %v, %v", err, r.overLimit)
	}
}
