// Package aktualizrip is aktualizr's "IP Secondary" protocol, both ends:
// the message set of ipuptane_message.asn1 (one AKIpUptaneMes CHOICE, EXPLICIT
// context tags, DER, no length prefix: a receiver decodes until it holds one
// whole message), a Client (the Primary's end: version negotiation with the
// fallback to version 1, getInfo, Root versions, intermediate Roots,
// putMetaReq2, image chunks, install, manifest) and a Server (the
// Secondary's end: messages back to back on one connection at a time).
//
// The data types and the codec (messages.go, codec.go, der.go) know nothing
// of transports; Conn carries whole messages over TCP (StreamConn) or any
// transport that keeps message boundaries. docs/aktualizr-ip.md describes
// the messages, the sequence and how it maps onto the Uptane Standard.
package aktualizrip
