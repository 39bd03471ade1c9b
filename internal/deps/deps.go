// Package deps pins the module's dependencies while the packages that use
// them are being written (removed once every one is imported for real).
package deps

import (
	_ "github.com/gopacket/gopacket/pcapgo"
	_ "github.com/onsi/ginkgo/v2"
	_ "github.com/onsi/gomega"
	_ "github.com/theupdateframework/go-tuf/v2/metadata/updater"
	_ "go.einride.tech/can/pkg/socketcan"
	_ "go.etcd.io/bbolt"
	_ "golang.org/x/net/html"
	_ "golang.org/x/sys/unix"
	_ "gopkg.in/yaml.v3"
)
