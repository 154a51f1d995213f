package httpclient

// Reason classifies why a request failed. The set is closed so it can be a
// Prometheus label value (loadgen_request_errors_total{reason}); never put
// error text in a label. ReasonNone means the request succeeded.
type Reason uint8

// The reasons, in the order of docs/metrics.md. ReasonStatus and ReasonCheck
// are decided by the executor (a response came, but it was not acceptable);
// the others come from Classify.
const (
	ReasonNone     Reason = iota // no error
	ReasonTimeout                // the per-request timeout expired
	ReasonDNS                    // the host name did not resolve
	ReasonConnect                // the TCP connection could not be made (refused, unreachable)
	ReasonTLS                    // the TLS handshake failed
	ReasonReset                  // the connection was reset or closed before a full response
	ReasonProtocol               // the response broke HTTP/1.1 (status line, headers, length, chunking; see ProtocolError)
	ReasonStatus                 // an unexpected HTTP status (non-2xx/3xx without an explicit check)
	ReasonCheck                  // a check on the response failed
	ReasonCanceled               // the run was cancelled while the request was in flight
	ReasonOther                  // anything else
	NumReasons                   // number of values, for arrays indexed by Reason
)

var reasonNames = [NumReasons]string{
	ReasonNone:     "none",
	ReasonTimeout:  "timeout",
	ReasonDNS:      "dns",
	ReasonConnect:  "connect",
	ReasonTLS:      "tls",
	ReasonReset:    "reset",
	ReasonProtocol: "protocol",
	ReasonStatus:   "status",
	ReasonCheck:    "check",
	ReasonCanceled: "canceled",
	ReasonOther:    "other",
}

// String returns the label value of r ("timeout", "dns", ...; "none" for
// ReasonNone).
func (r Reason) String() string {
	if r < NumReasons {
		return reasonNames[r]
	}
	return "other"
}

// ErrorReasons lists every failure reason (ReasonNone excluded) in label
// order, for pre-creating metric children and for reports.
var ErrorReasons = []Reason{ReasonTimeout, ReasonDNS, ReasonConnect, ReasonTLS, ReasonReset, ReasonProtocol, ReasonStatus, ReasonCheck, ReasonCanceled, ReasonOther}

// ParseReason is the inverse of String; ok is false for an unknown name.
func ParseReason(s string) (r Reason, ok bool) {
	for i, n := range reasonNames {
		if n == s {
			return Reason(i), true
		}
	}
	return ReasonOther, false
}
