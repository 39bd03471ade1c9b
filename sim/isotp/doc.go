// Package isotp is ISO-TP (ISO 15765-2:2016) on a can.Bus: it carries
// messages of up to 4 GiB - 1 bytes over CAN and CAN FD frames, for the UDS
// layer above it. A Conn is one channel (a transmit and a receive
// identifier), like a Linux can-isotp socket, and runs on the virtual bus
// with the simulated clock as well as on SocketCAN with the wall clock.
//
// Frames: single frames (classic: SF_DL in the PCI nibble; CAN FD: the
// escape SF_DL byte for 8..62 bytes), first frames (12-bit FF_DL; FF_DL 0
// and a 32-bit length above 4095 bytes), consecutive frames (sequence
// numbers 1..15, 0, 1, ...), flow control (CTS, WAIT, OVFLW with block
// size and STmin, 0xF1..0xF9 meaning 100..900 µs and the reserved values
// 127 ms). Normal and extended addressing, 11- and 29-bit identifiers,
// TX_DL 8..64 with BRS, optional padding (CAN FD frames are always padded
// to the next valid length).
//
// Receiving follows the kernel's isotp.c and the standard:
//   - a consecutive frame when no reception is in progress is ignored;
//   - a new SF or FF during a reception aborts it (reported as a
//     KindProtocol error, N_UNEXP_PDU) and starts over;
//   - a wrong sequence number aborts the reception (KindProtocol); the
//     message is never delivered;
//   - malformed frames (SF_DL 0 or beyond the frame, an FF_DL that fits a
//     single frame, an escape FF_DL below 4096, a classic FF shorter than
//     8 bytes, a CF longer than the FF or short before the last) are
//     ignored;
//   - a first frame announcing more than MaxRx bytes (or arriving while the
//     receive queue is full) is answered with FC OVFLW; buffers grow with
//     the data that arrives, never from the announced length alone;
//   - N_Cr expiring ends the reception (KindTimeout, Timer "N_Cr").
//
// Reception errors are delivered through Recv, in order with the messages
// (the kernel reports them as socket errors); the Conn stays usable.
//
// Sending takes the block size and STmin of the receiver's first FC CTS
// for the whole message (as the kernel does), waits for an FC after every
// block (N_Bs), accepts up to N_WFTmax FC WAIT in a row, and fails with
// KindOverflow on FC OVFLW and KindProtocol on an invalid flow status.
// Flow control frames are judged in the order they arrive, however late
// the sender takes them: after WAIT another FC is awaited (a CTS right
// behind a WAIT counts), after any other FC none until the next block, so
// a repeated CTS is ignored.
//
// Every error is an *Error whose Kind tells timeouts, protocol errors,
// overflow, closed channels, invalid arguments and bus failures apart;
// errors.Is(err, ErrTimeout) and the other sentinels match by kind.
//
// Under the simulated clock a Conn runs one actor (its receive loop);
// Send, Recv and Close must be called from actors. On a node that delivers
// frames itself (can.Deliverer: the timed virtual bus under the simulated
// clock) there is no receive actor: the receiver runs in the bus's
// delivery step at the instant each frame ends, N_Cr is a clock alarm,
// and only a frame that arrives while the node's transmit queue is full
// (flow control would have to wait) is handled on an actor of the moment.
// Timers are measured on the clock; a clock Jump during a transfer
// shortens the running N_Bs/N_Cr wait by the jump.
package isotp
