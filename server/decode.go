package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// requestError is a problem with a request, to be answered in the API's
// error shape: its HTTP status, a message for the person reading it, and,
// for OpenAI, the parameter at fault and an error code.
type requestError struct {
	status  int
	message string
	param   string
	code    string
}

// Error is the message for the client.
func (e *requestError) Error() string { return e.message }

// badRequest returns a 400 error about param.
func badRequest(param, format string, args ...any) *requestError {
	return &requestError{status: http.StatusBadRequest, message: fmt.Sprintf(format, args...), param: param}
}

// internalError returns a 500 error saying err.
func internalError(err error) *requestError {
	return &requestError{status: http.StatusInternalServerError, message: err.Error()}
}

// decodeRequest reads the request's body into v as decodeJSON does, with
// the server's limits; on a problem it answers with the error and returns
// false.
func (s *Server) decodeRequest(w http.ResponseWriter, r *http.Request, v any) bool {
	if rerr := decodeJSON(w, r, s.cfg.MaxBody, s.bodyTimeout, v); rerr != nil {
		s.writeError(w, r, rerr)
		return false
	}
	return true
}

// decodeJSON reads a request body of at most limit bytes into v: one JSON
// object, with no field v does not know and every value of the right type.
// Each problem is a 400 (413 for a body over the limit) that says what is
// wrong and where.
func decodeJSON(w http.ResponseWriter, r *http.Request, limit int64, timeout time.Duration, v any) *requestError {
	// A client must send its body within timeout; the deadline is lifted
	// after, so that it does not end a long generation.
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(timeout))
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		// The deadline stays: net/http reads what is left of a body before
		// it answers, and must not wait for one that stopped coming.
		w.Header().Set("Connection", "close")
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return &requestError{status: http.StatusRequestEntityTooLarge,
				message: fmt.Sprintf("the request body is larger than %d bytes", tooBig.Limit)}
		}
		var t interface{ Timeout() bool }
		if errors.As(err, &t) && t.Timeout() {
			return &requestError{status: http.StatusRequestTimeout,
				message: fmt.Sprintf("the request body did not arrive within %v", timeout)}
		}
		return badRequest("", "reading the request body: %v", err)
	}
	_ = rc.SetReadDeadline(time.Time{})
	return decodeBody(body, v)
}

// decodeBody is decodeJSON's decoding of a body already read.
func decodeBody(body []byte, v any) *requestError {
	if len(bytes.TrimSpace(body)) == 0 {
		return badRequest("", "the request body is empty: send a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return badRequest("", "malformed JSON: unexpected data after the JSON object")
	}
	return nil
}

// strictUnmarshal decodes data into v refusing unknown fields, for the
// UnmarshalJSON methods of values that take several shapes.
func strictUnmarshal(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// jsonError turns a decoding error into a message that names the field.
func jsonError(err error) *requestError {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var field *fieldError
	switch {
	case errors.As(err, &field):
		return badRequest(field.field, "%s", field.Error())
	case errors.As(err, &syntax):
		return badRequest("", "malformed JSON at byte %d: %s", syntax.Offset, strings.TrimPrefix(syntax.Error(), "json: "))
	case errors.As(err, &typ):
		name := jsonPath(typ.Field)
		if name == "" {
			return badRequest("", "the request body must be a JSON object, not a JSON %s", typ.Value)
		}
		return badRequest(name, "field %q: want %s, got a JSON %s", name, jsonTypeName(typ.Type.String()), typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("", "malformed JSON: the body ends in the middle of a value")
	}
	msg := strings.TrimPrefix(err.Error(), "json: ")
	if name, ok := strings.CutPrefix(msg, "unknown field "); ok {
		return badRequest(strings.Trim(name, `"`), "unknown field %s", name)
	}
	return badRequest("", "malformed JSON: %s", msg)
}

// jsonPath drops the names of embedded Go structs from a field path
// ("samplingFields.temperature" → "temperature"): the APIs' JSON names are
// all lower case.
func jsonPath(field string) string {
	var keep []string
	for _, part := range strings.Split(field, ".") {
		if strings.ContainsFunc(part, unicode.IsUpper) {
			continue
		}
		keep = append(keep, part)
	}
	return strings.Join(keep, ".")
}

// jsonTypeName says what JSON a Go type takes, for error messages.
func jsonTypeName(goType string) string {
	switch {
	case strings.HasPrefix(goType, "[]"), strings.HasSuffix(goType, "List"):
		return "an array"
	case strings.Contains(goType, "string"):
		return "a string"
	case strings.Contains(goType, "bool"):
		return "true or false"
	case strings.Contains(goType, "int"):
		return "an integer"
	case strings.Contains(goType, "float"):
		return "a number"
	}
	return "an object"
}

// fieldError is an error about one field from an UnmarshalJSON method.
type fieldError struct {
	field, msg string
}

// Error names the field and the problem.
func (e *fieldError) Error() string { return fmt.Sprintf("field %q: %s", e.field, e.msg) }

// stringList is a JSON string, an array of strings, or null (OpenAI's and
// Ollama's "stop").
type stringList []string

// UnmarshalJSON reads a string or an array of strings.
func (s *stringList) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	switch {
	case bytes.Equal(data, []byte("null")):
		*s = nil
		return nil
	case len(data) > 0 && data[0] == '"':
		var one string
		if err := json.Unmarshal(data, &one); err != nil {
			return err
		}
		*s = stringList{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(data, &many); err != nil {
		return &fieldError{"stop", "want a string or an array of strings"}
	}
	*s = many
	return nil
}

// duration is Ollama's keep_alive: a Go duration string ("5m", "-1s"), a
// number of seconds, or null. Negative means forever.
type duration struct {
	set bool
	d   time.Duration
}

// UnmarshalJSON reads a duration string or a number of seconds.
func (d *duration) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	if bytes.Equal(data, []byte("null")) {
		*d = duration{}
		return nil
	}
	bad := &fieldError{"keep_alive", `want a duration such as "5m" or a number of seconds`}
	if len(data) > 0 && data[0] == '"' {
		var s string
		if err := json.Unmarshal(data, &s); err != nil {
			return bad
		}
		if secs, err := strconv.ParseFloat(s, 64); err == nil {
			return d.fromSeconds(secs, bad)
		}
		v, err := time.ParseDuration(s)
		if err != nil {
			return bad
		}
		*d = duration{set: true, d: v}
		return nil
	}
	var secs float64
	if err := json.Unmarshal(data, &secs); err != nil {
		return bad
	}
	return d.fromSeconds(secs, bad)
}

func (d *duration) fromSeconds(secs float64, bad error) error {
	if math.IsNaN(secs) || math.Abs(secs) > float64(math.MaxInt64/int64(time.Second)) {
		return bad
	}
	*d = duration{set: true, d: time.Duration(secs * float64(time.Second))}
	return nil
}
