// Package standin is a local stand-in for the Google APIs a deploy calls:
// gcloud and firebase-tools are pointed at it (gcloud's
// api_endpoint_overrides properties, firebase-tools' *_URL variables, a fake
// token for both), so every command of a deploy runs for real, offline, and
// the requests they send can be read back and checked.
//
// # What it is and is not
//
// It records each request (API, method, path, query, JSON body) and keeps
// just enough state for the clients to proceed and for a second deploy to
// see the first one's resources: a create of something that exists answers
// 409 ALREADY_EXISTS, a get of something missing 404, IAM policies are kept
// per resource, long-running operations are done at once. It checks no
// permission, validates no field and builds nothing: it proves what the
// clients send, not what Google would do with it.
package standin

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// ProjectNumber is the number every project has on the stand-in.
const ProjectNumber = "123456789012"

// gcloudAPIs are the gcloud API names whose endpoints Env overrides: every
// API the deploy's gcloud commands call, and a few they might, so that
// nothing reaches Google by accident.
func gcloudAPIs() []string {
	return []string{
		"artifactregistry", "cloudbuild", "cloudfunctions", "cloudresourcemanager", "cloudscheduler",
		"eventarc", "firestore", "iam", "iamcredentials", "logging", "pubsub", "run", "serviceusage", "storage",
	}
}

// firebaseURLs are firebase-tools' origin variables (lib/api.js envOverride),
// each pointed at the stand-in under the API name it serves.
func firebaseURLs() map[string]string {
	return map[string]string{
		"FIRESTORE_URL":                "firestore",
		"FIREBASE_RULES_URL":           "firebaserules",
		"FIREBASE_API_URL":             "firebase",
		"FIREBASE_RESOURCEMANAGER_URL": "cloudresourcemanager",
		"FIREBASE_SERVICE_USAGE_URL":   "serviceusage",
		"FIREBASE_IAM_URL":             "iam",
		"FIREBASE_TOKEN_URL":           "oauth",
		"FIREBASE_CLOUDBILLING_URL":    "cloudbilling",
		"FIREBASE_FUNCTIONS_V2_URL":    "cloudfunctions",
		"FIREBASE_PUBSUB_URL":          "pubsub",
	}
}

// Request is one recorded request.
type Request struct {
	// API is the first path element: the API name the override routed.
	API    string
	Method string
	// Path is the rest of the path, version included ("v2/projects/...").
	Path  string
	Query url.Values
	// Body is the JSON body decoded into generic values; nil if none.
	Body map[string]any
}

// Server is a running stand-in.
type Server struct {
	// URL is the server's base URL (http://127.0.0.1:port).
	URL string

	srv *http.Server

	mu        sync.Mutex
	requests  []Request
	resources map[string]map[string]any // API + "/" + resource name
	policies  map[string]map[string]any // API + "/" + resource name
	uploads   map[string][]byte
	ops       map[string]map[string]any
	nextID    int
}

// Start serves a new stand-in on a free port of 127.0.0.1.
func Start() (*Server, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("standin: %w", err)
	}
	s := &Server{
		URL:       "http://" + l.Addr().String(),
		resources: map[string]map[string]any{},
		policies:  map[string]map[string]any{},
		uploads:   map[string][]byte{},
		ops:       map[string]map[string]any{},
	}
	s.srv = &http.Server{Handler: http.HandlerFunc(s.serve)}
	go func() { _ = s.srv.Serve(l) }()
	return s, nil
}

// Close stops the server.
func (s *Server) Close() error { return s.srv.Close() }

// Env returns the environment that points gcloud and firebase-tools at s:
// a gcloud configuration directory and a home of their own under dir (so the
// developer's credentials and settings are neither used nor changed), a
// fake access token, and every endpoint override.
func (s *Server) Env(dir string) ([]string, error) {
	for _, d := range []string{dir + "/gcloud", dir + "/home/.config"} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("standin: %w", err)
		}
	}
	if err := os.WriteFile(dir+"/token", []byte(Token+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("standin: %w", err)
	}
	env := []string{
		"CLOUDSDK_CONFIG=" + dir + "/gcloud",
		"CLOUDSDK_AUTH_ACCESS_TOKEN_FILE=" + dir + "/token",
		"CLOUDSDK_CORE_DISABLE_USAGE_REPORTING=true",
		"CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK=true",
		"CLOUDSDK_CORE_DISABLE_PROMPTS=1",
		"CLOUDSDK_CORE_DISABLE_FILE_LOGGING=true",
		"CLOUDSDK_SURVEY_DISABLE_PROMPTS=true",
		"CLOUDSDK_CORE_CHECK_GCE_METADATA=false",
		"HOME=" + dir + "/home",
		"XDG_CONFIG_HOME=" + dir + "/home/.config",
		"FIREBASE_TOKEN=standin-refresh-token",
		"FIREBASE_CLI_EXPERIMENTS=",
		"NO_UPDATE_NOTIFIER=1",
		"FIREBASE_SKIP_UPDATE_CHECK=1",
		"NPM_CONFIG_UPDATE_NOTIFIER=false",
	}
	for _, api := range gcloudAPIs() {
		env = append(env, "CLOUDSDK_API_ENDPOINT_OVERRIDES_"+strings.ToUpper(api)+"="+s.URL+"/"+api+"/")
	}
	urls := firebaseURLs()
	for _, k := range slices.Sorted(maps.Keys(urls)) {
		env = append(env, k+"="+s.URL+"/"+urls[k])
	}
	return env, nil
}

// Token is the access token in Env's token file.
const Token = "standin-access-token"

// Requests returns every request so far, in arrival order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// Uploads returns the bodies PUT to upload URLs, by URL path, in order.
func (s *Server) Uploads() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out [][]byte
	for _, k := range slices.Sorted(maps.Keys(s.uploads)) {
		out = append(out, s.uploads[k])
	}
	return out
}

// State returns the stand-in's resources and IAM policies as JSON, keys
// sorted, without what every deploy makes anew by design (the source
// archive a function was built from, the rulesets firebase-tools uploads
// and the one its release points to): two deploys of one plan that
// converge leave the same State.
func (s *Server) State() string {
	s.mu.Lock()
	b, _ := json.Marshal(map[string]any{"resources": s.resources, "policies": s.policies})
	s.mu.Unlock()
	var st struct {
		Resources map[string]map[string]any `json:"resources"`
		Policies  map[string]any            `json:"policies"`
	}
	_ = json.Unmarshal(b, &st)
	for k, r := range st.Resources {
		switch {
		case strings.HasPrefix(k, "cloudfunctions/"):
			if bc, ok := r["buildConfig"].(map[string]any); ok {
				delete(bc, "source")
			}
		case strings.HasPrefix(k, "firebaserules/") && strings.Contains(k, "/rulesets/"):
			delete(st.Resources, k)
		case strings.HasPrefix(k, "firebaserules/"):
			delete(r, "rulesetName")
		}
	}
	out, _ := json.MarshalIndent(st, "", " ")
	return string(out)
}

// Resource returns the stored resource api/name ("cloudfunctions",
// "projects/p/locations/r/functions/f"), or nil.
func (s *Server) Resource(api, name string) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.resources[api+"/"+name]
}

// Policy returns the IAM policy of api/name, or nil.
func (s *Server) Policy(api, name string) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.policies[api+"/"+name]
}

// Members returns the members holding role in the policy of api/name.
func (s *Server) Members(api, name, role string) []string {
	p := s.Policy(api, name)
	bindings, _ := p["bindings"].([]any)
	for _, b := range bindings {
		b, _ := b.(map[string]any)
		if b["role"] != role {
			continue
		}
		var out []string
		for _, m := range b["members"].([]any) {
			out = append(out, m.(string))
		}
		return out
	}
	return nil
}

type status struct {
	code int
	name string
}

// The errors the stand-in answers with.
func notFound() status      { return status{http.StatusNotFound, "NOT_FOUND"} }
func alreadyExists() status { return status{http.StatusConflict, "ALREADY_EXISTS"} }
func badRequest() status    { return status{http.StatusBadRequest, "INVALID_ARGUMENT"} }

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	api, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	req := Request{API: api, Method: r.Method, Path: rest, Query: r.URL.Query()}
	if api != "upload" && len(raw) > 0 {
		// A body that is not a JSON object (a form, a zip) is kept out of
		// Body; the upload is kept in Uploads.
		_ = json.Unmarshal(raw, &req.Body)
	}
	s.mu.Lock()
	s.requests = append(s.requests, req)
	resp, st := s.handle(req, raw)
	s.mu.Unlock()

	w.Header().Set("Content-Type", "application/json")
	if st.code != 0 {
		w.WriteHeader(st.code)
		_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{
			"code": st.code, "status": st.name, "message": fmt.Sprintf("standin: %s %s: %s", r.Method, r.URL.Path, st.name),
		}})
		return
	}
	_ = json.NewEncoder(w).Encode(resp)
}

// lroAPI reports the APIs that answer creates and updates with a
// long-running operation; the others answer with the resource itself.
func lroAPI(api string) bool {
	return api == "cloudfunctions" || api == "serviceusage" || api == "firestore" || api == "run"
}

// handle answers req; s.mu is held.
func (s *Server) handle(req Request, raw []byte) (any, status) {
	name, verb, _ := strings.Cut(resourceName(req.Path), ":")
	key := req.API + "/" + name
	switch {
	case req.API == "oauth":
		return map[string]any{"access_token": Token, "expires_in": 3600, "token_type": "Bearer"}, status{}
	case req.API == "upload":
		s.uploads[req.Path] = raw
		return map[string]any{}, status{}
	case strings.Contains(name, "operations/") && req.Method == http.MethodGet:
		op, ok := s.ops[name[strings.Index(name, "operations/"):]]
		if !ok {
			return nil, notFound()
		}
		return op, status{}
	case verb == "getIamPolicy":
		if p, ok := s.policies[key]; ok {
			return p, status{}
		}
		return map[string]any{"etag": "ACAB", "version": 1}, status{}
	case verb == "setIamPolicy":
		p, _ := req.Body["policy"].(map[string]any)
		if p == nil {
			return nil, badRequest()
		}
		s.policies[key] = p
		return p, status{}
	case verb == "testIamPermissions":
		return map[string]any{"permissions": req.Body["permissions"]}, status{}
	case verb == "batchEnable", verb == "enable":
		ids, _ := req.Body["serviceIds"].([]any)
		if verb == "enable" {
			ids = []any{name[strings.LastIndex(name, "/")+1:]}
			name = name[:strings.LastIndex(name, "/")]
		}
		for _, id := range ids {
			s.resources[req.API+"/"+name+"/"+id.(string)] = map[string]any{"name": name + "/" + id.(string), "state": "ENABLED"}
		}
		return s.op(map[string]any{}), status{}
	case verb == "generateServiceIdentity":
		// As on Google Cloud, the new agent holds its service's agent role
		// on the project (for Pub/Sub that role lets it mint push tokens).
		service := name[strings.LastIndex(name, "/")+1:]
		agent := strings.TrimSuffix(service, ".googleapis.com")
		email := "service-" + ProjectNumber + "@gcp-sa-" + agent + ".iam.gserviceaccount.com"
		project, _, _ := strings.Cut(name, "/services/")
		s.addBinding("cloudresourcemanager/"+project, "roles/"+agent+".serviceAgent", "serviceAccount:"+email)
		return s.op(map[string]any{"email": email, "uniqueId": "1"}), status{}
	case verb == "generateUploadUrl":
		s.nextID++
		id := strconv.Itoa(s.nextID)
		return map[string]any{
			"uploadUrl":     s.URL + "/upload/source-" + id + ".zip",
			"storageSource": map[string]any{"bucket": "gcf-v2-uploads-" + ProjectNumber, "object": "source-" + id + ".zip"},
		}, status{}
	case verb == "test" && req.API == "firebaserules":
		// The rules compile: the emulators' tests have run them already.
		return map[string]any{}, status{}
	case verb != "":
		return nil, status{http.StatusNotImplemented, "UNIMPLEMENTED"}
	}

	switch req.Method {
	case http.MethodGet:
		if res, ok := s.get(req.API, name); ok {
			return res, status{}
		}
		return nil, notFound()
	case http.MethodPost:
		id, body := createdID(req)
		if id == "" {
			// A server-assigned id (a ruleset, an index).
			s.nextID++
			id = "standin-" + strconv.Itoa(s.nextID)
		}
		return s.create(req.API, name+"/"+id, body)
	case http.MethodPut:
		return s.create(req.API, name, req.Body)
	case http.MethodPatch:
		if rel, ok := req.Body["release"].(map[string]any); ok && req.API == "firebaserules" {
			// The rules API wraps the release in its update request.
			req.Body = rel
		}
		res, ok := s.resources[key]
		if !ok && upserted(req.API, name) {
			return s.create(req.API, name, req.Body)
		}
		if !ok {
			return nil, notFound()
		}
		merge(res, req.Body)
		return s.result(req.API, res), status{}
	case http.MethodDelete:
		delete(s.resources, key)
		return s.result(req.API, map[string]any{}), status{}
	}
	return nil, badRequest()
}

// upserted reports the resources whose update creates them: every field of
// a Firestore collection group has a configuration, the default one until
// it is changed; a rules release is created by its first update.
func upserted(api, name string) bool {
	return api == "firestore" && strings.Contains(name, "/fields/") ||
		api == "firebaserules" && strings.Contains(name, "/releases/")
}

// get returns a stored resource or a list of them, or what the clients
// expect to exist already (the project, the runtimes).
func (s *Server) get(api, name string) (any, bool) {
	if res, ok := s.resources[api+"/"+name]; ok {
		return res, true
	}
	parts := strings.Split(name, "/")
	switch {
	case api == "cloudresourcemanager" && len(parts) == 2 && parts[0] == "projects":
		return map[string]any{"projectId": parts[1], "projectNumber": ProjectNumber, "name": name, "lifecycleState": "ACTIVE"}, true
	case api == "firebase" && len(parts) == 2 && parts[0] == "projects":
		return map[string]any{"projectId": parts[1], "projectNumber": ProjectNumber, "name": name, "state": "ACTIVE"}, true
	case api == "serviceusage" && len(parts) == 4 && parts[2] == "services":
		// What a fresh project says of an API nobody enabled.
		return map[string]any{"name": name, "state": "DISABLED"}, true
	case api == "cloudbuild" && parts[len(parts)-1] == "defaultServiceAccount":
		return map[string]any{"name": name, "serviceAccountEmail": "projects/" + parts[1] + "/serviceAccounts/" + ProjectNumber + "-compute@developer.gserviceaccount.com"}, true
	case api == "cloudfunctions" && parts[len(parts)-1] == "runtimes":
		return map[string]any{"runtimes": []any{
			map[string]any{"name": "go126", "displayName": "Go 1.26", "stage": "GA", "environment": "GEN_2"},
		}}, true
	case len(parts)%2 == 1:
		// A collection: list what is stored under it; "-" stands for any
		// parent, as in Firestore's collectionGroups/-/indexes.
		items := []any{}
		for _, k := range slices.Sorted(maps.Keys(s.resources)) {
			rapi, rname, _ := strings.Cut(k, "/")
			if rapi == api && inCollection(rname, parts) {
				items = append(items, s.resources[k])
			}
		}
		return map[string]any{parts[len(parts)-1]: items}, true
	}
	return nil, false
}

// addBinding adds member to role in the policy of key; s.mu is held.
func (s *Server) addBinding(key, role, member string) {
	p := s.policies[key]
	if p == nil {
		p = map[string]any{"etag": "ACAB", "version": 1}
		s.policies[key] = p
	}
	bindings, _ := p["bindings"].([]any)
	for _, b := range bindings {
		b := b.(map[string]any)
		if b["role"] == role {
			members := b["members"].([]any)
			if !slices.Contains(members, any(member)) {
				b["members"] = append(members, member)
			}
			return
		}
	}
	p["bindings"] = append(bindings, map[string]any{"role": role, "members": []any{member}})
}

// inCollection reports whether the resource name is a direct member of
// the collection whose path segments are coll.
func inCollection(name string, coll []string) bool {
	segs := strings.Split(name, "/")
	if len(segs) != len(coll)+1 {
		return false
	}
	for i, c := range coll {
		if c != "-" && c != segs[i] {
			return false
		}
	}
	return true
}

func (s *Server) create(api, name string, body map[string]any) (any, status) {
	key := api + "/" + name
	if _, ok := s.resources[key]; ok {
		return nil, alreadyExists()
	}
	res := map[string]any{}
	merge(res, body)
	res["name"] = name
	s.complete(api, name, res)
	s.resources[key] = res
	return s.result(api, res), status{}
}

// complete fills in the output-only fields the clients read back.
func (s *Server) complete(api, name string, res map[string]any) {
	parts := strings.Split(name, "/")
	id := parts[len(parts)-1]
	switch {
	case api == "cloudfunctions":
		res["state"] = "ACTIVE"
		res["environment"] = "GEN_2"
		sc, _ := res["serviceConfig"].(map[string]any)
		if sc == nil {
			sc = map[string]any{}
			res["serviceConfig"] = sc
		}
		service := strings.ToLower(id)
		sc["service"] = strings.Join(parts[:4], "/") + "/services/" + service
		sc["uri"] = "https://" + service + "-standin.a.run.app"
		if et, ok := res["eventTrigger"].(map[string]any); ok {
			et["trigger"] = strings.Join(parts[:4], "/") + "/triggers/" + service
		}
		// The first deploy in a region creates the repository the images
		// go to.
		repo := strings.Join(parts[:4], "/") + "/repositories/gcf-artifacts"
		if _, ok := s.resources["artifactregistry/"+repo]; !ok {
			s.resources["artifactregistry/"+repo] = map[string]any{"name": repo, "format": "DOCKER"}
		}
	case api == "firestore" && parts[len(parts)-2] == "indexes":
		// Firestore orders every composite index by the document name
		// last, in the last field's direction, and lists it so.
		res["state"] = "READY"
		if fields, ok := res["fields"].([]any); ok && len(fields) > 0 {
			last, _ := fields[len(fields)-1].(map[string]any)
			if last["fieldPath"] != "__name__" {
				order := last["order"]
				if order == nil {
					order = "ASCENDING"
				}
				res["fields"] = append(fields, map[string]any{"fieldPath": "__name__", "order": order})
			}
		}
	case api == "iam" && len(parts) == 4 && parts[2] == "serviceAccounts":
		res["email"] = id
		res["projectId"] = parts[1]
		res["uniqueId"] = "1"
	}
}

func (s *Server) result(api string, res map[string]any) any {
	if lroAPI(api) {
		return s.op(res)
	}
	return res
}

func (s *Server) op(response map[string]any) map[string]any {
	s.nextID++
	name := "operations/op-" + strconv.Itoa(s.nextID)
	// gcloud functions reads the metadata's stages of every operation it
	// waits for; none means nothing left to wait for.
	op := map[string]any{"name": name, "done": true, "response": response, "metadata": map[string]any{
		"@type": "type.googleapis.com/google.cloud.functions.v2.OperationMetadata", "stages": []any{},
	}}
	s.ops[name] = op
	return op
}

// createdID is the id of the resource a POST creates and the body to store:
// from a "<kind>Id" query parameter (Cloud Functions), an accountId (IAM),
// or the body's own name (Cloud Scheduler).
func createdID(req Request) (string, map[string]any) {
	for k, v := range req.Query {
		if strings.HasSuffix(k, "Id") && len(v) == 1 {
			return v[0], req.Body
		}
	}
	if id, ok := req.Body["accountId"].(string); ok {
		body, _ := req.Body["serviceAccount"].(map[string]any)
		project := strings.TrimPrefix(resourceName(req.Path), "projects/")
		project, _, _ = strings.Cut(project, "/")
		return id + "@" + project + ".iam.gserviceaccount.com", body
	}
	if name, ok := req.Body["name"].(string); ok {
		return name[strings.LastIndex(name, "/")+1:], req.Body
	}
	return "", req.Body
}

// resourceName strips the version from an API path ("v2/projects/p" ->
// "projects/p").
func resourceName(path string) string {
	_, rest, _ := strings.Cut(path, "/")
	return rest
}

// merge copies src's fields into dst, recursing into objects, as an update
// of the fields it names.
func merge(dst, src map[string]any) {
	for k, v := range src {
		if sub, ok := v.(map[string]any); ok {
			if d, ok := dst[k].(map[string]any); ok {
				merge(d, sub)
				continue
			}
		}
		dst[k] = v
	}
}
