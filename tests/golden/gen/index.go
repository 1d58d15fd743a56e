package main

import (
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The per-VM index as the kubevirt-datamover controller declares it (VMIndex, CheckpointEntry
// and CheckpointFile in pkg/uploader/types.go of migtools/kubevirt-datamover-controller): the
// same field types and json tags, so encoding/json decodes a document here exactly as it does
// in the controller's LookupLatestCheckpoint.
type vmIndex struct {
	VMName      string            `json:"vmName"`
	Namespace   string            `json:"namespace"`
	Checkpoints []checkpointEntry `json:"checkpoints"`
	LastUpdated time.Time         `json:"lastUpdated,omitempty"`
}

type checkpointEntry struct {
	ID             string           `json:"id"`
	Type           string           `json:"type"`
	Parent         string           `json:"parent,omitempty"`
	Timestamp      time.Time        `json:"timestamp"`
	VMBackup       string           `json:"vmBackup"`
	Files          []checkpointFile `json:"files"`
	PVCs           []string         `json:"pvcs"`
	PVCSizes       []quantity       `json:"pvcSizes,omitempty"`
	ReferencedBy   []string         `json:"referencedBy"`
	VMBObjectPath  string           `json:"vmbObjectPath,omitempty"`
	VMBTObjectPath string           `json:"vmbtObjectPath,omitempty"`
	Superseded     bool             `json:"superseded,omitempty"`
}

type checkpointFile struct {
	Filename   string `json:"filename"`
	DiskName   string `json:"diskName,omitempty"`
	Size       int64  `json:"size"`
	ObjectPath string `json:"objectPath"`
}

// quantity stands in for k8s.io/apimachinery resource.Quantity, which no Debian package ships.
// Like Quantity it unmarshals itself from any JSON value, so everything encoding/json decides
// around it (a pvcSizes that is not an array, nulls, duplicates) is exact; but it keeps the raw
// text instead of validating it, so no case below depends on whether a quantity is valid.
type quantity struct{ raw string }

func (q *quantity) UnmarshalJSON(data []byte) error {
	q.raw = string(data)
	return nil
}

func (q quantity) MarshalJSON() ([]byte, error) { return []byte(q.raw), nil }

// maxShownDoc bounds the documents also written out as text (the deep-nesting ones are not).
const maxShownDoc = 4096

type indexCase struct {
	Name   string        `json:"name"`
	DocB64 string        `json:"doc_b64"`
	Doc    *string       `json:"doc,omitempty"` // the document, when it is valid UTF-8
	OK     bool          `json:"ok"`
	Error  string        `json:"error,omitempty"`
	Value  *decodedIndex `json:"value,omitempty"`
}

type decodedIndex struct {
	VMName      string              `json:"vmName"`
	Namespace   string              `json:"namespace"`
	LastUpdated instant             `json:"lastUpdated"`
	Checkpoints []decodedCheckpoint `json:"checkpoints"` // null for a nil slice
}

type decodedCheckpoint struct {
	ID             string        `json:"id"`
	Type           string        `json:"type"`
	Parent         string        `json:"parent"`
	Timestamp      instant       `json:"timestamp"`
	VMBackup       string        `json:"vmBackup"`
	Files          []decodedFile `json:"files"`
	PVCs           []string      `json:"pvcs"`
	PVCSizes       []string      `json:"pvcSizesRaw"`
	ReferencedBy   []string      `json:"referencedBy"`
	VMBObjectPath  string        `json:"vmbObjectPath"`
	VMBTObjectPath string        `json:"vmbtObjectPath"`
	Superseded     bool          `json:"superseded"`
}

// decodedFile is checkpointFile with every field written out (no omitempty).
type decodedFile struct {
	Filename   string `json:"filename"`
	DiskName   string `json:"diskName"`
	Size       int64  `json:"size"`
	ObjectPath string `json:"objectPath"`
}

func indexCases() []indexCase {
	var cases []indexCase
	for _, d := range indexDocs() {
		c := indexCase{Name: d.name, DocB64: base64.StdEncoding.EncodeToString([]byte(d.doc))}
		if utf8.ValidString(d.doc) && len(d.doc) <= maxShownDoc {
			text := d.doc
			c.Doc = &text
		}
		var idx vmIndex
		if err := json.Unmarshal([]byte(d.doc), &idx); err != nil {
			c.Error = err.Error()
		} else {
			c.OK = true
			c.Value = decoded(idx)
		}
		cases = append(cases, c)
	}
	return cases
}

func decoded(idx vmIndex) *decodedIndex {
	out := &decodedIndex{VMName: idx.VMName, Namespace: idx.Namespace, LastUpdated: instantOf(idx.LastUpdated)}
	if idx.Checkpoints != nil {
		out.Checkpoints = []decodedCheckpoint{}
	}
	for _, c := range idx.Checkpoints {
		d := decodedCheckpoint{
			ID: c.ID, Type: c.Type, Parent: c.Parent, Timestamp: instantOf(c.Timestamp), VMBackup: c.VMBackup,
			PVCs: c.PVCs, ReferencedBy: c.ReferencedBy,
			VMBObjectPath: c.VMBObjectPath, VMBTObjectPath: c.VMBTObjectPath, Superseded: c.Superseded,
		}
		if c.Files != nil {
			d.Files = []decodedFile{}
		}
		for _, f := range c.Files {
			d.Files = append(d.Files, decodedFile(f))
		}
		if c.PVCSizes != nil {
			d.PVCSizes = []string{}
			for _, q := range c.PVCSizes {
				d.PVCSizes = append(d.PVCSizes, q.raw)
			}
		}
		out.Checkpoints = append(out.Checkpoints, d)
	}
	return out
}

// ------------------------------------------------------------------------------- documents

type doc struct{ name, doc string }

// field is one member of a JSON object, its value as raw JSON text; absent drops the member.
type field struct{ key, value string }

const absent = "\x00absent"

func object(fields []field) string {
	parts := make([]string, 0, len(fields))
	for _, f := range fields {
		if f.value != absent {
			parts = append(parts, quote(f.key)+":"+f.value)
		}
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// with replaces the value of key (every occurrence), or appends key when it is not there.
func with(fields []field, key, value string) []field {
	out := append([]field(nil), fields...)
	found := false
	for i := range out {
		if out[i].key == key {
			out[i].value, found = value, true
		}
	}
	if !found {
		out = append(out, field{key, value})
	}
	return out
}

func quote(s string) string {
	b, err := json.Marshal(s)
	must(err)
	return string(b)
}

func fileFields() []field {
	return []field{
		{"filename", `"vmb-c1-rootdisk.qcow2"`}, {"diskName", `"rootdisk"`}, {"size", `1073741824`},
		{"objectPath", `"checkpoints/apps/vm-1/c1/vmb-c1-rootdisk.qcow2"`},
	}
}

func entryFields(files string) []field {
	return []field{
		{"id", `"c1"`}, {"type", `"Full"`}, {"timestamp", `"2026-03-01T01:12:03.123456789Z"`},
		{"vmBackup", `"vmb-c1"`}, {"files", files}, {"pvcs", `["rootdisk"]`}, {"pvcSizes", `["10Gi"]`},
		{"referencedBy", `["nightly-20260301010000"]`},
		{"vmbObjectPath", `"checkpoints/apps/vm-1/c1/vmb.json"`}, {"vmbtObjectPath", `"checkpoints/apps/vm-1/c1/vmbt.json"`},
	}
}

func incremental(id, parent string) string {
	return object(with(with(with(entryFields("["+object(fileFields())+"]"), "id", quote(id)), "type", `"Incremental"`),
		"parent", quote(parent)))
}

func topFields(checkpoints string) []field {
	return []field{
		{"vmName", `"vm-1"`}, {"namespace", `"apps"`}, {"checkpoints", checkpoints},
		{"lastUpdated", `"2026-03-01T01:12:04Z"`},
	}
}

func withTop(key, value string) string {
	return object(with(topFields("["+object(entryFields("["+object(fileFields())+"]"))+"]"), key, value))
}

func withEntry(key, value string) string {
	entry := object(with(entryFields("["+object(fileFields())+"]"), key, value))
	return object(topFields("[" + entry + "," + incremental("c2", "c1") + "]"))
}

func withFile(key, value string) string {
	file := object(with(fileFields(), key, value))
	return object(topFields("[" + object(entryFields("["+file+"]")) + "]"))
}

// raw builds a document from a checkpoints value and the rest of the top level as written.
func raw(checkpoints string) string { return object(topFields(checkpoints)) }

// long is an index of n checkpoints (one full, then incrementals, a day apart) in which the
// first occurrence of old inside the last checkpoint is replaced by new.
func long(n int, old, new string) string {
	entries := []string{object(entryFields("[" + object(fileFields()) + "]"))}
	for i := 2; i <= n; i++ {
		id, parent := "c"+itoa(i), "c"+itoa(i-1)
		at := time.Date(2026, 3, i, 1, 12, 3, 123456789, time.UTC).Format(time.RFC3339Nano)
		entry := object(with(with(with(with(entryFields("["+object(fileFields())+"]"), "id", quote(id)),
			"type", `"Incremental"`), "parent", quote(parent)), "timestamp", quote(at)))
		if i == n && old != "" {
			entry = strings.Replace(entry, old, new, 1)
		}
		entries = append(entries, entry)
	}
	return raw("[" + strings.Join(entries, ",") + "]")
}

func itoa(i int) string { return strconv.Itoa(i) }

func utf16le(s string) string {
	var b strings.Builder
	for _, r := range s {
		b.WriteByte(byte(r))
		b.WriteByte(byte(r >> 8))
	}
	return b.String()
}

func nested(depth int) string {
	return strings.Repeat("[", depth) + strings.Repeat("]", depth)
}

func indexDocs() []doc {
	valid := withTop("vmName", `"vm-1"`)
	full := object(entryFields("[" + object(fileFields()) + "]"))
	docs := []doc{
		{"valid: one full", valid},
		{"valid: full and two incrementals", raw("[" + full + "," + incremental("c2", "c1") + "," + incremental("c3", "c2") + "]")},
		{"valid: as the uploader writes it (MarshalIndent)", indented(raw("[" + full + "," + incremental("c2", "c1") + "]"))},
		{"valid: empty checkpoints", raw(`[]`)},
		{"valid: null checkpoints", raw(`null`)},
		{"valid: no checkpoints key", withTop("checkpoints", absent)},
		{"valid: empty object", `{}`},
		{"valid: top-level null", `null`},
		{"valid: surrounding whitespace", " \n\t" + valid + "\r\n "},
		{"valid: no lastUpdated", withTop("lastUpdated", absent)},
		{"valid: files null", withEntry("files", `null`)},
		{"valid: files empty", withEntry("files", `[]`)},
		{"valid: pvcs null", withEntry("pvcs", `null`)},
		{"valid: referencedBy holds an empty name", withEntry("referencedBy", `["", "nightly-1"]`)},
		{"valid: referencedBy element null", withEntry("referencedBy", `[null, "nightly-1"]`)},
		{"valid: parent empty on a full", withEntry("parent", `""`)},
		{"valid: superseded true", withEntry("superseded", `true`)},
		{"valid: superseded false", withEntry("superseded", `false`)},
		{"valid: superseded null", withEntry("superseded", `null`)},
		{"valid: pvcSizes absent", withEntry("pvcSizes", absent)},
		{"valid: pvcSizes null", withEntry("pvcSizes", `null`)},
		{"valid: pvcSizes element null", withEntry("pvcSizes", `[null]`)},
		{"valid: vmb paths absent", object(with(with(entryFields("["+object(fileFields())+"]"), "vmbObjectPath", absent), "vmbtObjectPath", absent))},
		{"valid: type in lower case", withEntry("type", `"full"`)},
		{"valid: type unknown word", withEntry("type", `"Differential"`)},
		{"valid: checkpoint element null", raw(`[null]`)},
		{"valid: files element null", withEntry("files", `[null]`)},
		{"valid: diskName absent", withFile("diskName", absent)},
		{"valid: objectPath empty", withFile("objectPath", `""`)},
		{"valid: string escapes", withTop("vmName", `"vm-\u0031\t\"\\\/"`)},
		{"valid: surrogate pair escape", withTop("vmName", `"\ud83d\ude00"`)},
		{"valid: lone surrogate escape becomes U+FFFD", withEntry("id", `"c\ud800x"`)},
		{"valid: non-ASCII names", withTop("namespace", `"äpps-名前"`)},
		{"invalid UTF-8 in a value is replaced", withTop("vmName", "\"vm-\xff\xfe-1\"")},
		{"invalid UTF-8: a truncated sequence", withTop("vmName", "\"vm-\xe2\x82\"")},
		{"invalid UTF-8 in an unknown key", object(append(topFields("[]"), field{"x\xffy", `1`}))},
	}

	// Wrong JSON types, field by field.
	for _, v := range []struct{ name, value string }{
		{"number", `1`}, {"boolean", `true`}, {"array", `[]`}, {"object", `{}`}, {"null", `null`},
	} {
		docs = append(docs,
			doc{"vmName " + v.name, withTop("vmName", v.value)},
			doc{"namespace " + v.name, withTop("namespace", v.value)},
			doc{"lastUpdated " + v.name, withTop("lastUpdated", v.value)},
			doc{"id " + v.name, withEntry("id", v.value)},
			doc{"type " + v.name, withEntry("type", v.value)},
			doc{"parent " + v.name, withEntry("parent", v.value)},
			doc{"timestamp " + v.name, withEntry("timestamp", v.value)},
			doc{"vmBackup " + v.name, withEntry("vmBackup", v.value)},
			doc{"vmbObjectPath " + v.name, withEntry("vmbObjectPath", v.value)},
			doc{"vmbtObjectPath " + v.name, withEntry("vmbtObjectPath", v.value)},
			doc{"filename " + v.name, withFile("filename", v.value)},
			doc{"diskName " + v.name, withFile("diskName", v.value)},
			doc{"objectPath " + v.name, withFile("objectPath", v.value)},
		)
	}
	docs = append(docs,
		doc{"checkpoints a string", raw(`"c1"`)},
		doc{"checkpoints an object", raw(full)},
		doc{"checkpoints a number", raw(`3`)},
		doc{"checkpoints true", raw(`true`)},
		doc{"checkpoint element a string", raw(`["c1"]`)},
		doc{"checkpoint element a number", raw(`[1]`)},
		doc{"checkpoint element an array", raw(`[[]]`)},
		doc{"files an object", withEntry("files", object(fileFields()))},
		doc{"files a string", withEntry("files", `"f.qcow2"`)},
		doc{"files element a string", withEntry("files", `["vmb-c1-rootdisk.qcow2"]`)},
		doc{"files element a number", withEntry("files", `[1]`)},
		doc{"pvcs a string", withEntry("pvcs", `"rootdisk"`)},
		doc{"pvcs element a number", withEntry("pvcs", `[1]`)},
		doc{"pvcs element an object", withEntry("pvcs", `[{}]`)},
		doc{"pvcSizes a string", withEntry("pvcSizes", `"10Gi"`)},
		doc{"pvcSizes an object", withEntry("pvcSizes", `{}`)},
		doc{"referencedBy a string", withEntry("referencedBy", `"nightly-1"`)},
		doc{"referencedBy element a number", withEntry("referencedBy", `[1]`)},
		doc{"referencedBy element a boolean", withEntry("referencedBy", `[false]`)},
		doc{"superseded a string", withEntry("superseded", `"true"`)},
		doc{"superseded a number", withEntry("superseded", `1`)},
		doc{"superseded an object", withEntry("superseded", `{}`)},
		doc{"top level an array", `[]`},
		doc{"top level a string", `"index"`},
		doc{"top level a number", `0`},
		doc{"top level true", `true`},
	)

	// Integers: size is an int64.
	for _, v := range []struct{ name, value string }{
		{"zero", `0`}, {"minus zero", `-0`}, {"negative", `-1`},
		{"int64 max", `9223372036854775807`}, {"int64 max + 1", `9223372036854775808`},
		{"int64 min", `-9223372036854775808`}, {"int64 min - 1", `-9223372036854775809`},
		{"twenty digits", `12345678901234567890`}, {"a float", `1.5`}, {"a float with zero fraction", `1.0`},
		{"an exponent", `1e3`}, {"an exponent with a sign", `1E+2`}, {"minus zero float", `-0.0`},
		{"a huge float", `1e400`}, {"a string", `"1024"`}, {"an empty string", `""`}, {"boolean", `true`},
		{"null", `null`}, {"an array", `[1024]`}, {"an object", `{}`},
	} {
		docs = append(docs, doc{"size " + v.name, withFile("size", v.value)})
	}

	// Times: RFC 3339 as Go's time.Time.UnmarshalJSON reads it.
	for _, ts := range []string{
		"2026-03-01T01:12:00Z", "2026-03-01T01:12:00.1Z", "2026-03-01T01:12:00.123456Z",
		"2026-03-01T01:12:00.123456789Z", "2026-03-01T01:12:00.1234567891Z", "2026-03-01T01:12:00.000000000Z",
		"2026-03-01T01:12:00,5Z", "2026-03-01T01:12:00.Z", "2026-03-01T01:12:00+02:00",
		"2026-03-01T01:12:00-05:30", "2026-03-01T01:12:00+00:00", "2026-03-01T01:12:00-00:00",
		"2026-03-01T01:12:00+23:59", "2026-03-01T01:12:00+24:00", "2026-03-01T01:12:00+24:60",
		"2026-03-01T01:12:00+24:61", "2026-03-01T01:12:00-25:00", "2026-03-01T01:12:00+99:99",
		"2026-03-01T01:12:00+0200", "2026-03-01T01:12:00+02", "2026-03-01T01:12:00z",
		"2026-03-01t01:12:00Z", "2026-03-01 01:12:00Z", "2026-03-01T01:12Z", "2026-03-01T01:12:00",
		"2026-03-01T24:00:00Z", "2026-03-01T1:12:00Z", "2026-03-01T01:2:00Z", "2026-3-01T01:12:00Z",
		"2026-03-01T01:12:60Z", "2026-02-30T00:00:00Z", "2026-02-29T00:00:00Z", "2028-02-29T00:00:00Z",
		"2026-04-31T00:00:00Z", "2026-00-01T00:00:00Z", "2026-13-01T00:00:00Z",
		"0000-01-01T00:00:00Z", "0001-01-01T00:00:00Z", "0001-01-01T01:00:00+01:00", "0001-01-01T00:00:00.000000001Z",
		"9999-12-31T23:59:59Z", "9999-12-31T23:59:59-01:00", "10000-01-01T00:00:00Z", "-0001-01-01T00:00:00Z",
		"1969-12-31T23:59:59.999999999Z", "2026-03-01", "", " 2026-03-01T01:12:00Z", "2026-03-01T01:12:00Z ",
		"2026-03-01T01:12:00ZZ", "2026-03-01T01:12:00.123456789012Z",
	} {
		docs = append(docs, doc{"timestamp " + quote(ts), withEntry("timestamp", quote(ts))})
	}
	docs = append(docs,
		doc{"timestamp written with an escape", withEntry("timestamp", `"2026-03-01T01:12:00\u005a"`)},
		doc{"lastUpdated \"2026-03-01T01:12:00.5+01:00\"", withTop("lastUpdated", `"2026-03-01T01:12:00.5+01:00"`)},
		doc{"lastUpdated not RFC 3339", withTop("lastUpdated", `"yesterday"`)},
	)

	// Unknown fields are skipped, whatever they hold.
	docs = append(docs,
		doc{"unknown top-level field", withTop("extra", `{"a":[1,2,{"b":null}],"c":"d"}`)},
		doc{"unknown entry field", withEntry("checksum", `"sha256:0"`)},
		doc{"unknown file field", withFile("sha256", `[1,2,3]`)},
		doc{"snake_case is another key", withTop("vm_name", `"other"`)},
		doc{"unknown field holding invalid-looking values", withTop("note", `[1e999, -0, "\u0000"]`)},
	)

	// Keys match fields case-insensitively; the last occurrence of a field wins.
	docs = append(docs,
		doc{"key in upper case", `{"VMNAME":"upper","namespace":"apps","checkpoints":[]}`},
		doc{"key in mixed case", `{"VmName":"mixed","NameSpace":"apps","Checkpoints":[{"ID":"c1","TYPE":"Full","Timestamp":"2026-03-01T01:12:00Z","FILES":[{"ObjectPath":"p","SIZE":5}]}]}`},
		doc{"key with the Kelvin sign", "{\"chec\u212apoints\":[{\"id\":\"c1\",\"type\":\"Full\"}]}"},
		doc{"key with the long s", "{\"checkpoint\u017f\":[{\"id\":\"c1\",\"type\":\"Full\",\"files\":[{\"\u017fize\":7}]}]}"},
		doc{"key with an escape", `{"vm\u004eame":"escaped","checkpoints":[]}`},
		doc{"exact then folded key", `{"id":"x","checkpoints":[{"id":"exact","ID":"folded"}]}`},
		doc{"folded then exact key", `{"checkpoints":[{"ID":"folded","id":"exact"}]}`},
		doc{"duplicate vmName", `{"vmName":"first","vmName":"second","checkpoints":[]}`},
		doc{"duplicate vmName, the second null", `{"vmName":"first","vmName":null}`},
		doc{"duplicate size", strings.Replace(withFile("size", `1`), `"objectPath"`, `"size":2,"objectPath"`, 1)},
		doc{"duplicate checkpoints: the second shorter is decoded into the first's elements",
			`{"checkpoints":[{"id":"a","type":"Full","timestamp":"2026-03-01T01:00:00Z","files":[{"objectPath":"a/f","size":1}]},{"id":"b","type":"Incremental","parent":"a"}],"checkpoints":[{"id":"c"}]}`},
		doc{"duplicate checkpoints: a third longer one brings back the dropped element",
			`{"checkpoints":[{"id":"a","type":"Full"},{"id":"b","type":"Incremental","parent":"a"}],"checkpoints":[{"id":"c"}],"checkpoints":[{},{"vmBackup":"v"}]}`},
		doc{"duplicate checkpoints: the second null", `{"checkpoints":[{"id":"a","type":"Full"}],"checkpoints":null}`},
		doc{"duplicate checkpoints: the second empty", `{"checkpoints":[{"id":"a","type":"Full"}],"checkpoints":[]}`},
		doc{"duplicate files inside an entry", `{"checkpoints":[{"id":"a","files":[{"objectPath":"p1","size":1},{"objectPath":"p2","size":2}],"files":[{"size":3}]}]}`},
		doc{"duplicate key, the second of the wrong type", `{"vmName":"ok","vmName":5}`},
		doc{"duplicate key, the first of the wrong type", `{"vmName":5,"vmName":"ok"}`},
		doc{"a wrong type after a later error position", `{"checkpoints":[{"id":1}],"vmName":2}`},
	)

	// A long, realistic index with one flaw deep inside it.
	docs = append(docs,
		doc{"forty checkpoints", long(40, "", "")},
		doc{"forty checkpoints, the last size a string", long(40, `"size":1073741824`, `"size":"1073741824"`)},
		doc{"forty checkpoints, the last objectPath duplicated", long(40, `"objectPath":`, `"objectPath":"first","objectPath":`)},
		doc{"forty checkpoints, the last timestamp with an hour 24", long(40, `"2026-04-09T01:12:03.123456789Z"`, `"2026-04-09T24:12:03Z"`)},
		doc{"forty checkpoints, the last type key in upper case", long(40, `"type":"Incremental"`, `"TYPE":"Incremental"`)},
		doc{"a string with NUL and DEL", withTop("vmName", "\"vm\\u0000\x7f\"")},
	)

	// Syntax.
	docs = append(docs,
		doc{"empty input", ``},
		doc{"only whitespace", " \n "},
		doc{"trailing comma in an object", `{"vmName":"vm-1",}`},
		doc{"trailing comma in an array", raw(`[` + full + `,]`)},
		doc{"a comment", `{"vmName":"vm-1" /* c */}`},
		doc{"NaN", withFile("size", `NaN`)},
		doc{"Infinity in an unknown field", withTop("x", `Infinity`)},
		doc{"single quotes", `{'vmName':'vm-1'}`},
		doc{"trailing text", valid + ` x`},
		doc{"two documents", valid + valid},
		doc{"UTF-8 byte order mark", "\xef\xbb\xbf" + valid},
		doc{"a raw control character in a string", withTop("vmName", "\"vm\x01\"")},
		doc{"a bad escape", withTop("vmName", `"vm\x"`)},
		doc{"a truncated \\u escape", withTop("vmName", `"vm\u12"`)},
		doc{"a leading zero in a number", withFile("size", `0123`)},
		doc{"a plus sign in a number", withFile("size", `+1`)},
		doc{"a bare minus", withFile("size", `-`)},
		doc{"a truncated document", valid[:len(valid)/2]},
		doc{"an unquoted key", `{vmName:"vm-1"}`},
		doc{"UTF-16 little-endian", utf16le(valid)},
		doc{"no-break space before the document", "\u00a0" + valid},
		doc{"form feed before the document", "\f" + valid},
		doc{"nesting of 9999 in an unknown field", withTop("x", nested(9998))},
		doc{"nesting of 10000 in an unknown field", withTop("x", nested(9999))},
		doc{"nesting of 10001 in an unknown field", withTop("x", nested(10000))},
	)
	return docs
}

// indented is the document as the uploader writes it: decoded into the index type and written
// back with json.MarshalIndent.
func indented(document string) string {
	var v vmIndex
	must(json.Unmarshal([]byte(document), &v))
	b, err := json.MarshalIndent(v, "", "  ")
	must(err)
	return string(b)
}
