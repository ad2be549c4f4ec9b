// Package sharedexperiences is the deployable root of the backend. The Go
// buildpack compiles only the package at the module root, so this package
// registers every function of package functions with functions-framework-go;
// Cloud Functions then serves the one named by --entry-point.
package sharedexperiences

import (
	"context"
	"log"

	ff "github.com/GoogleCloudPlatform/functions-framework-go/functions"

	"github.com/pajama-app/sharedexperiences/functions"
)

func init() {
	app, err := functions.NewFromEnv(context.Background())
	if err != nil {
		// A misconfigured instance must not serve: failing here shows in the
		// deployment's logs at once instead of in every request.
		log.Fatalf("sharedexperiences: %v", err)
	}
	functions.Register(app, functions.Registrar{HTTP: ff.HTTP, CloudEvent: ff.CloudEvent})
}
