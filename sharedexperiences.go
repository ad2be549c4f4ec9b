// Package sharedexperiences is the deployable root of the backend. The Go
// buildpack compiles only the package at the module root, so this package
// registers every function of package functions with functions-framework-go;
// Cloud Functions then serves the one named by --entry-point. The
// CloudEvent functions are registered as HTTP functions that decode the
// event themselves (App.ServeCloudEvent says why): Eventarc's request
// is the same either way, and functions-framework-go serves the function
// FUNCTION_TARGET names whatever its kind.
package sharedexperiences

import (
	"context"
	"log"

	ff "github.com/GoogleCloudPlatform/functions-framework-go/functions"
	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/pajama-app/sharedexperiences/functions"
)

func init() {
	app, err := functions.NewFromEnv(context.Background())
	if err != nil {
		// A misconfigured instance must not serve: failing here shows in the
		// deployment's logs at once instead of in every request.
		log.Fatalf("sharedexperiences: %v", err)
	}
	functions.Register(app, functions.Registrar{
		HTTP: ff.HTTP,
		CloudEvent: func(name string, fn func(context.Context, event.Event) error) {
			ff.HTTP(name, app.ServeCloudEvent(name, fn))
		},
	})
}
