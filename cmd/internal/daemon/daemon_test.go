package daemon

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/promslog"
)

func TestCheckExposure(t *testing.T) {
	dir := t.TempDir()
	auth := filepath.Join(dir, "auth.yml")
	// bcrypt of "x"; only its presence matters here.
	os.WriteFile(auth, []byte("basic_auth_users:\n  am: $2y$10$KWTt7ik6hsZ7n1QZvG3Qy.ouZ1ehkRG2V5g7jX3N7dWhkcl2/Ls8a\n"), 0o600)
	empty := filepath.Join(dir, "empty.yml")
	os.WriteFile(empty, []byte("http_server_config:\n  http2: true\n"), 0o600)
	tests := []struct {
		listen, webConfig string
		unauth            bool
		wantErr           bool
	}{
		{"127.0.0.1:9754", "", false, false},
		{"[::1]:9754", "", false, false},
		{"localhost:9754", "", false, false},
		{":9754", "", false, true},
		{"0.0.0.0:9754", empty, false, true},
		{"198.51.100.1:9754", auth, false, false},
		{":9754", "", true, false},
	}
	for _, tc := range tests {
		app := kingpin.New("t", "")
		f := AddFlags(app, "t", "t.yml", "127.0.0.1:9754", true)
		args := []string{"--web.listen-address=" + tc.listen}
		if tc.webConfig != "" {
			args = append(args, "--web.config.file="+tc.webConfig)
		}
		if tc.unauth {
			args = append(args, "--web.unauthenticated")
		}
		if _, err := app.Parse(args); err != nil {
			t.Fatal(err)
		}
		err := CheckExposure(f)
		if (err != nil) != tc.wantErr {
			t.Errorf("listen %s config %q unauth %v: err %v, want error %v", tc.listen, tc.webConfig, tc.unauth, err, tc.wantErr)
		}
	}
}

func TestReloadEndpointAndMetrics(t *testing.T) {
	app := kingpin.New("t", "")
	f := AddFlags(app, "t", "t.yml", "127.0.0.1:0", false)
	if _, err := app.Parse(nil); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	fail := false
	rl := NewReloader(reg, "t", func(context.Context) error {
		if fail {
			return errors.New("t.yml:3: bad")
		}
		return nil
	})
	mux, err := Mux(f, Program{Name: "t", Logger: promslog.NewNopLogger(), Registry: reg, Ready: func() bool { return !fail }}, rl.Reload)
	if err != nil {
		t.Fatal(err)
	}
	do := func(method, path string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
		return rec
	}
	if c := do(http.MethodGet, "/-/reload").Code; c != http.StatusMethodNotAllowed {
		t.Errorf("GET /-/reload = %d", c)
	}
	if c := do(http.MethodPost, "/-/reload").Code; c != http.StatusOK {
		t.Errorf("POST /-/reload = %d", c)
	}
	if v := testutil.ToFloat64(rl.success); v != 1 {
		t.Errorf("reload successful = %v", v)
	}
	fail = true
	rec := do(http.MethodPost, "/-/reload")
	if rec.Code != http.StatusInternalServerError || !strings.Contains(rec.Body.String(), "t.yml:3: bad") {
		t.Errorf("failed reload = %d %q", rec.Code, rec.Body.String())
	}
	if v := testutil.ToFloat64(rl.success); v != 0 {
		t.Errorf("reload successful after failure = %v", v)
	}
	if c := do(http.MethodGet, "/-/ready").Code; c != http.StatusServiceUnavailable {
		t.Errorf("ready = %d", c)
	}
	if c := do(http.MethodGet, "/-/healthy").Code; c != http.StatusOK {
		t.Errorf("healthy = %d", c)
	}
	if rec := do(http.MethodGet, "/metrics"); !strings.Contains(rec.Body.String(), "t_config_last_reload_successful 0") {
		t.Errorf("metrics lack reload gauge:\n%s", rec.Body.String())
	}
}
