package reports

import _ "embed"

// StandardText is the Uptane Standard 2.1.0 (Apache-2.0, see
// testdata/uptane-standard.LICENSE.md), embedded so that reports quote the
// sections a scenario exercises without reading any file at run time.
//
//go:embed testdata/uptane-standard.md
var StandardText []byte
