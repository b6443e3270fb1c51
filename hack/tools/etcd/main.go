// Command etcd is the etcd server, built from its published Go module
// (go.etcd.io/etcd/server/v3 has local replace directives, so `go install`
// refuses it; this module requires it at a published version instead).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
