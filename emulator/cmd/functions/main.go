// Command functions serves every function of the backend in one process, as
// the Go buildpack's generated main does for one: it imports the module root
// (whose init registers the functions) and starts functions-framework-go.
// With FUNCTION_TARGET unset, each function is served at /{name}. The local
// runner (emulator/cmd/run) starts it; there is no reason to run it alone.
package main

import (
	"flag"
	"log"
	"net/http"

	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"

	_ "github.com/pajama-app/sharedexperiences"
)

func main() {
	host := flag.String("host", "127.0.0.1", "address to serve on")
	port := flag.String("port", "8081", "port to serve on")
	flag.Parse()
	if err := funcframework.StartHostPort(*host, *port); err != nil && err != http.ErrServerClosed {
		log.Fatalf("functions: %v", err)
	}
}
