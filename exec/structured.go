package main

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// One element of a structured result: an object's key (`.key`) or an array's index (`[i]`), as
// src/core/structured.ts writes it in env TLR_SELECTORS and in the selector token around a reference.
type selector struct {
	key   string
	index int
	isKey bool
}

func (s selector) String() string {
	if s.isKey {
		return "." + s.key
	}
	return "[" + strconv.Itoa(s.index) + "]"
}

// A selector token the rewrite declared: `[[tlr:select:<selector>:<reference>]]`, and what it picks.
type selection struct {
	token string
	ref   reference
	sel   selector
	label string
}

var selectorLabel = regexp.MustCompile(`^([a-z0-9][a-z0-9-]*/[A-Za-z0-9][A-Za-z0-9._-]*?)(\.[A-Za-z0-9_-]+|\[(?:0|[1-9][0-9]{0,8})\])$`)

// parseSelections reads TLR_SELECTORS (literal `<task>/<result>.key` / `<task>/<result>[i]` items the rewrite
// wrote), each around the declared reference of its `<task>/<result>` (init/refs-text.ts selectionsFor).
func parseSelections(text string, refs []reference) ([]selection, error) {
	byLabel := map[string]reference{}
	var labels []string
	for _, r := range refs {
		byLabel[r.task+"/"+r.result] = r
		labels = append(labels, r.task+"/"+r.result)
	}
	var out []selection
	for _, item := range strings.Fields(text) {
		m := selectorLabel.FindStringSubmatch(item)
		var ref reference
		ok := m != nil
		if ok {
			ref, ok = byLabel[m[1]]
		}
		if !ok {
			return nil, fmt.Errorf("the elements this task uses (env TLR_SELECTORS) must be <task>/<result>.<key> or "+
				"<task>/<result>[<index>] of the labelled references in TLR_REFS (%s), found %q", strings.Join(labels, " "), truncate(item))
		}
		var sel selector
		if strings.HasPrefix(m[2], ".") {
			sel = selector{key: m[2][1:], isKey: true}
		} else {
			sel.index, _ = strconv.Atoi(m[2][1 : len(m[2])-1])
		}
		out = append(out, selection{token: "[[tlr:select:" + sel.String() + ":" + ref.token + "]]", ref: ref, sel: sel, label: item})
	}
	return out, nil
}

// The states of structuredReader, as in init/structured-json.ts.
const (
	sStart = iota
	sFirst
	sNext
	sColon
	sValue
	sAfter
	sDone
	sKey
	sStr
	sNull
)

// structuredReader is init/structured-json.ts's StructuredReader for one selection: it reads an object of strings
// or an array of strings as Tekton takes them (first byte `{` or `[`, strings or null, valid UTF-8, no lone
// surrogate, nothing but whitespace after) and keeps the selected element's decoded bytes, up to limit.
type structuredReader struct {
	object    bool
	subject   string
	sel       selector
	limit     int
	state     int
	offset    int
	elements  int
	key       []byte
	keyLong   bool
	keys      []string
	selecting bool
	selKey    bool
	found     bool
	escape    int
	hex       rune
	high      rune
	utf8Left  int
	utf8Low   byte
	utf8High  byte
	nullSeen  int
	out       []byte
	overLimit bool
}

const maxKeyBytes = 64 * 1024

func newStructuredReader(sel selector, subject string, limit int) *structuredReader {
	return &structuredReader{object: sel.isKey, sel: sel, subject: subject, limit: limit, utf8Low: 0x80, utf8High: 0xbf}
}

func (r *structuredReader) typeName() string {
	if r.object {
		return "object"
	}
	return "array"
}

func (r *structuredReader) fail(at int, format string, args ...any) error {
	return fmt.Errorf("%s, declared an %s, %s (at byte %d)", r.subject, r.typeName(), fmt.Sprintf(format, args...), at)
}

func isSpace(b byte) bool { return b == ' ' || b == '\n' || b == '\r' || b == '\t' }

func describeByte(b byte) string {
	if b >= 0x21 && b < 0x7f {
		return fmt.Sprintf("%q", string(rune(b)))
	}
	return fmt.Sprintf("byte 0x%02x", b)
}

func (r *structuredReader) emit(b ...byte) {
	if !r.selecting || r.overLimit {
		return
	}
	if len(r.out)+len(b) > r.limit {
		r.overLimit = true
		return
	}
	r.out = append(r.out, b...)
}

func (r *structuredReader) push(chunk []byte) error {
	for i, b := range chunk {
		at := r.offset + i
		var err error
		if r.state == sStr || r.state == sKey {
			err = r.stringByte(b, at)
		} else {
			err = r.structural(b, at)
		}
		if err != nil {
			return err
		}
	}
	r.offset += len(chunk)
	return nil
}

func (r *structuredReader) end() error {
	if r.state != sDone {
		if r.state == sStart {
			return r.fail(r.offset, "is empty")
		}
		return r.fail(r.offset, "ends before its JSON does (truncated)")
	}
	if !r.found {
		if r.sel.isKey {
			return fmt.Errorf("%s has no key %q; found keys %s", r.subject, r.sel.key, r.describeKeys())
		}
		return fmt.Errorf("%s has %d element(s), so index [%d] is out of range", r.subject, r.elements, r.sel.index)
	}
	return nil
}

func (r *structuredReader) describeKeys() string {
	if len(r.keys) == 0 {
		return "none"
	}
	quoted := make([]string, len(r.keys))
	for i, k := range r.keys {
		quoted[i] = strconv.Quote(k)
	}
	s := strings.Join(quoted, ", ")
	if more := r.elements - len(r.keys); more > 0 {
		s += fmt.Sprintf(" and %d more", more)
	}
	return s
}

func (r *structuredReader) closer() byte {
	if r.object {
		return '}'
	}
	return ']'
}

func (r *structuredReader) structural(b byte, at int) error {
	switch r.state {
	case sStart:
		open := byte('[')
		if r.object {
			open = '{'
		}
		if b != open {
			return r.fail(at, "must start with %q (Tekton reads a value starting with anything else as a string), found %s at its first byte", string(open), describeByte(b))
		}
		r.state = sFirst
	case sFirst, sNext:
		if isSpace(b) {
			return nil
		}
		if r.state == sFirst && b == r.closer() {
			r.state = sDone
			return nil
		}
		if !r.object {
			return r.value(b, at)
		}
		if b != '"' {
			return r.fail(at, "expected a key (a JSON string), found %s", describeByte(b))
		}
		r.key = r.key[:0]
		r.keyLong = false
		r.state = sKey
	case sColon:
		if isSpace(b) {
			return nil
		}
		if b != ':' {
			return r.fail(at, "expected \":\" after a key, found %s", describeByte(b))
		}
		r.state = sValue
	case sValue:
		if isSpace(b) {
			return nil
		}
		return r.value(b, at)
	case sAfter:
		switch {
		case isSpace(b):
		case b == ',':
			r.state = sNext
		case b == r.closer():
			r.state = sDone
		default:
			return r.fail(at, "expected \",\" or %q, found %s", string(r.closer()), describeByte(b))
		}
	case sDone:
		if !isSpace(b) {
			return r.fail(at, "has %s after its JSON ended; expected nothing but whitespace", describeByte(b))
		}
	case sNull:
		if b != "null"[r.nullSeen] {
			return r.fail(at, "expected a string or null, found %s", describeByte(b))
		}
		r.nullSeen++
		if r.nullSeen == 4 {
			r.endElement()
		}
	}
	return nil
}

func (r *structuredReader) value(b byte, at int) error {
	if r.object {
		r.selecting = r.selKey
	} else {
		r.selecting = !r.found && r.sel.index == r.elements
	}
	if r.selecting {
		r.found = true
	}
	switch b {
	case '"':
		r.state = sStr
		return nil
	case 'n':
		r.nullSeen = 1
		r.state = sNull
		return nil
	}
	what := describeByte(b)
	if b == '{' || b == '[' {
		what = "a nested object or array"
	}
	return r.fail(at, "expected a string (Tekton's %s results hold strings only), found %s in %s", r.typeName(), what, r.where())
}

func (r *structuredReader) where() string {
	if r.state == sKey {
		return "a key"
	}
	if !r.object {
		return fmt.Sprintf("element [%d]", r.elements)
	}
	return fmt.Sprintf("the value of key %q", string(r.key))
}

func (r *structuredReader) endElement() {
	r.elements++
	r.selecting = false
	r.state = sAfter
}

func (r *structuredReader) endKey(at int) error {
	if r.keyLong {
		return r.fail(at, "has a key longer than %d bytes", maxKeyBytes)
	}
	k := string(r.key)
	if len(r.keys) < 10 {
		if len(k) > 100 {
			k = k[:100]
		}
		r.keys = append(r.keys, k)
	}
	if r.found && r.object && string(r.key) == r.sel.key {
		return r.fail(at, "has the key %q twice; expected each key once (Tekton would keep the last, a reader that stops at the first would see another value)", r.sel.key)
	}
	r.selKey = !r.found && string(r.key) == r.sel.key
	r.state = sColon
	return nil
}

func (r *structuredReader) keyByte(b byte) {
	if len(r.key) >= maxKeyBytes {
		r.keyLong = true
		return
	}
	r.key = append(r.key, b)
}

// out adds decoded bytes to the key being read or to the selected element.
func (r *structuredReader) put(b ...byte) {
	if r.state == sKey {
		for _, c := range b {
			r.keyByte(c)
		}
		return
	}
	r.emit(b...)
}

func (r *structuredReader) stringByte(b byte, at int) error {
	switch {
	case r.escape == 1:
		if b == 'u' {
			r.escape, r.hex = 2, 0
			return nil
		}
		decoded, ok := map[byte]byte{'"': '"', '\\': '\\', '/': '/', 'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t'}[b]
		if !ok {
			return r.fail(at, "has an invalid escape \"\\%c\" in %s", b, r.where())
		}
		r.escape = 0
		if r.high != 0 {
			return r.lone(r.high, at)
		}
		r.put(decoded)
		return nil
	case r.escape >= 2:
		d := hexDigit(b)
		if d < 0 {
			return r.fail(at, "has an invalid \\u escape (%s is not a hex digit) in %s", describeByte(b), r.where())
		}
		r.hex = r.hex*16 + rune(d)
		r.escape++
		if r.escape < 6 {
			return nil
		}
		r.escape = 0
		return r.codeUnit(r.hex, at)
	case r.utf8Left > 0:
		if b < r.utf8Low || b > r.utf8High {
			return r.invalidUTF8(at)
		}
		r.utf8Low, r.utf8High = 0x80, 0xbf
		r.utf8Left--
		r.put(b)
		return nil
	case b == '\\':
		r.escape = 1
		return nil
	}
	if r.high != 0 {
		return r.lone(r.high, at)
	}
	if b == '"' {
		if r.state == sKey {
			return r.endKey(at)
		}
		r.endElement()
		return nil
	}
	if b < 0x20 {
		return r.fail(at, "has the control byte %s unescaped in %s; JSON requires it escaped", describeByte(b), r.where())
	}
	if err := r.utf8Lead(b, at); err != nil {
		return err
	}
	r.put(b)
	return nil
}

// utf8Lead checks a UTF-8 lead byte (RFC 3629: no overlong forms, no surrogates, nothing past U+10FFFF).
func (r *structuredReader) utf8Lead(b byte, at int) error {
	switch {
	case b < 0x80:
	case b >= 0xc2 && b <= 0xdf:
		r.utf8Left = 1
	case b == 0xe0:
		r.utf8Left, r.utf8Low = 2, 0xa0
	case b == 0xed:
		r.utf8Left, r.utf8High = 2, 0x9f
	case b >= 0xe1 && b <= 0xef:
		r.utf8Left = 2
	case b == 0xf0:
		r.utf8Left, r.utf8Low = 3, 0x90
	case b >= 0xf1 && b <= 0xf3:
		r.utf8Left = 3
	case b == 0xf4:
		r.utf8Left, r.utf8High = 3, 0x8f
	default:
		return r.invalidUTF8(at)
	}
	return nil
}

func (r *structuredReader) codeUnit(u rune, at int) error {
	var buf [4]byte
	if r.high != 0 {
		if u < 0xdc00 || u > 0xdfff {
			return r.lone(r.high, at)
		}
		cp := 0x10000 + (r.high-0xd800)<<10 + (u - 0xdc00)
		r.high = 0
		n := utf8.EncodeRune(buf[:], cp)
		r.put(buf[:n]...)
		return nil
	}
	if u >= 0xd800 && u <= 0xdbff {
		r.high = u
		return nil
	}
	if u >= 0xdc00 && u <= 0xdfff {
		return r.lone(u, at)
	}
	n := utf8.EncodeRune(buf[:], u)
	r.put(buf[:n]...)
	return nil
}

func (r *structuredReader) lone(u rune, at int) error {
	return r.fail(at, "has a lone UTF-16 surrogate \\u%04x in %s, which no UTF-8 text can hold (Tekton would put U+FFFD in its place)", u, r.where())
}

func (r *structuredReader) invalidUTF8(at int) error {
	return r.fail(at, "is not valid UTF-8 in %s (JSON text is UTF-8; Tekton would put U+FFFD in place of the bad bytes)", r.where())
}

func hexDigit(b byte) int {
	switch {
	case b >= '0' && b <= '9':
		return int(b - '0')
	case b >= 'a' && b <= 'f':
		return int(b-'a') + 10
	case b >= 'A' && b <= 'F':
		return int(b-'A') + 10
	}
	return -1
}
