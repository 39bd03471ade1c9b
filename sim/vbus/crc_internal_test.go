package vbus

import "testing"

// The CRC engines against the catalogue check values (CRC RevEng) of
// "123456789" with a zero initial value: CRC-15/CAN 0x059E, CRC-17/CAN-FD
// 0x04F03, CRC-21/CAN-FD 0x0ED841.
func TestCRCCheckValues(t *testing.T) {
	classic := &bitWriter{}
	fd := &bitWriter{fd: true}
	for _, c := range []byte("123456789") {
		for i := 7; i >= 0; i-- {
			classic.crcIn((c >> uint(i)) & 1)
			fd.crcIn((c >> uint(i)) & 1)
		}
	}
	if classic.crc != 0x059e {
		t.Errorf("CRC-15 = %#x, want 0x59e", classic.crc)
	}
	if fd.crc17 != 0x04f03 {
		t.Errorf("CRC-17 = %#x, want 0x4f03", fd.crc17)
	}
	if fd.crc21 != 0x0ed841 {
		t.Errorf("CRC-21 = %#x, want 0xed841", fd.crc21)
	}
}
