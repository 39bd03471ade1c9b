package main

import "fmt"

// version is the tool's version, written into reports.
var version = "0.1.0-dev"

func init() {
	register("version", "print the version", func(args []string) int {
		fmt.Println("uptane-hil", version)
		return 0
	})
}
