package httpclient

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"syscall"

	"github.com/valyala/fasthttp"
)

// Classify maps a request error to a Reason (ReasonNone for nil). Dial
// failures keep the phase that failed (dns, connect, tls) even when the cause
// was a timeout; a cut-short request (ErrAborted, context.Canceled) is
// canceled; any other timeout is timeout; a connection reset or closed before
// the full response is reset; a response that breaks HTTP/1.1 (ProtocolError)
// is protocol. The executor itself decides status and check.
func Classify(err error) Reason {
	if err == nil {
		return ReasonNone
	}
	if r := classifyTransport(err); r != ReasonOther {
		return r
	}
	var pe *ProtocolError
	if errors.As(err, &pe) {
		return ReasonProtocol
	}
	// fasthttp reports some truncated responses only in text.
	msg := err.Error()
	if strings.Contains(msg, "EOF") || strings.Contains(msg, "connection reset") || strings.Contains(msg, "broken pipe") {
		return ReasonReset
	}
	return ReasonOther
}

// classifyTransport is Classify for what the error's types tell (no text
// matching): ReasonOther when they tell nothing.
func classifyTransport(err error) Reason {
	var de *DialError
	if errors.As(err, &de) {
		return de.Reason
	}
	var he *h2Error
	if errors.As(err, &he) {
		return he.reason
	}
	var re *RedirectError
	if errors.As(err, &re) {
		return re.Reason
	}
	if errors.Is(err, ErrAborted) || errors.Is(err, context.Canceled) {
		return ReasonCanceled
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return ReasonDNS
	}
	if isTLSErr(err) {
		return ReasonTLS
	}
	// An alert from the server after the handshake (TLS 1.3 reports a
	// missing or rejected client certificate this way, on the first read).
	var oe *net.OpError
	if errors.As(err, &oe) && (oe.Op == "remote error" || oe.Op == "local error") {
		return ReasonTLS
	}
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH) {
		return ReasonConnect
	}
	if errors.Is(err, fasthttp.ErrTimeout) || errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		return ReasonTimeout
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return ReasonTimeout
	}
	if errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNABORTED) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, fasthttp.ErrConnectionClosed) ||
		errors.Is(err, net.ErrClosed) {
		return ReasonReset
	}
	return ReasonOther
}

func isTLSErr(err error) bool {
	var rh tls.RecordHeaderError
	var ae tls.AlertError
	var cv *tls.CertificateVerificationError
	var ua x509.UnknownAuthorityError
	var hn x509.HostnameError
	var ci x509.CertificateInvalidError
	return errors.As(err, &rh) || errors.As(err, &ae) || errors.As(err, &cv) || errors.As(err, &ua) ||
		errors.As(err, &hn) || errors.As(err, &ci)
}
