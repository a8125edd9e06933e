package nats

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
)

// ExportQuery selects what Export writes. Zero fields: everything.
type ExportQuery struct {
	// Since exports the messages JetStream stored at or after this instant
	// (the lines' "time"), exactly: the server positions the reading.
	Since time.Time
	// AfterSeq exports the messages after this stream sequence: the last
	// "seq" of a previous export continues it with nothing missed or
	// repeated.
	AfterSeq uint64
}

// ExportLine is one line of an export: a stored message of the event
// stream, exactly. Event holds the stored body verbatim when it is JSON on
// one line (every event the service writes); any other body is in
// DataBase64 instead.
type ExportLine struct {
	Seq        uint64              `json:"seq"`
	Subject    string              `json:"subject"`
	Time       time.Time           `json:"time"`
	Headers    map[string][]string `json:"headers,omitempty"`
	Event      json.RawMessage     `json:"event,omitempty"`
	DataBase64 string              `json:"data_base64,omitempty"`
}

// Body returns the stored bytes the line carries.
func (l ExportLine) Body() ([]byte, error) {
	if l.DataBase64 != "" {
		return base64.StdEncoding.DecodeString(l.DataBase64)
	}
	return l.Event, nil
}

// AppendExportLine appends r as one export line, newline included. The
// stored body is copied byte for byte, not re-encoded.
func AppendExportLine(buf []byte, r Record) []byte {
	buf = append(buf, `{"seq":`...)
	buf = strconv.AppendUint(buf, r.Seq, 10)
	buf = append(buf, `,"subject":`...)
	buf = strconv.AppendQuote(buf, r.Subject) // subjects are printable ASCII
	buf = append(buf, `,"time":"`...)
	buf = r.Stored.UTC().AppendFormat(buf, time.RFC3339Nano)
	buf = append(buf, '"')
	if len(r.Header) > 0 {
		h, _ := json.Marshal(map[string][]string(r.Header))
		buf = append(buf, `,"headers":`...)
		buf = append(buf, h...)
	}
	if verbatim(r.Data) {
		buf = append(buf, `,"event":`...)
		buf = append(buf, r.Data...)
	} else {
		buf = append(buf, `,"data_base64":"`...)
		buf = base64.StdEncoding.AppendEncode(buf, r.Data)
		buf = append(buf, '"')
	}
	return append(buf, "}\n"...)
}

// verbatim reports whether a body can go into a line as it is: a JSON
// object with no line break.
func verbatim(b []byte) bool {
	return len(b) > 0 && b[0] == '{' && bytes.IndexAny(b, "\r\n") < 0 && json.Valid(b)
}

// ParseExportLine reads one line written by Export.
func ParseExportLine(b []byte) (ExportLine, error) {
	var l ExportLine
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&l); err != nil {
		return ExportLine{}, fmt.Errorf("export line: %w", err)
	}
	if l.Seq == 0 || l.Subject == "" {
		return ExportLine{}, errors.New("export line: no seq or subject")
	}
	if (len(l.Event) == 0) == (l.DataBase64 == "") {
		return ExportLine{}, fmt.Errorf("export line seq %d: want exactly one of event and data_base64", l.Seq)
	}
	return l, nil
}

// Export writes the selected stored messages to w, one JSON line each, in
// stream order, up to the stream's last message when it began. It returns
// how many lines it wrote and the last sequence written.
func (l *AuditLog) Export(ctx context.Context, w io.Writer, q ExportQuery) (n int, last uint64, err error) {
	bw := bufio.NewWriterSize(w, 256<<10)
	var buf []byte
	err = l.scanStream(ctx, streamScan{storedAt: q.Since, afterSeq: q.AfterSeq}, nil, func(r Record) error {
		buf = AppendExportLine(buf[:0], r)
		if _, err := bw.Write(buf); err != nil {
			return fmt.Errorf("write export: %w", err)
		}
		n++
		last = r.Seq
		return nil
	})
	if ferr := bw.Flush(); err == nil && ferr != nil {
		err = fmt.Errorf("write export: %w", ferr)
	}
	return n, last, err
}

// ExportHeader converts a line's headers back to a NATS header.
func ExportHeader(l ExportLine) nats.Header {
	if len(l.Headers) == 0 {
		return nil
	}
	return nats.Header(l.Headers)
}
