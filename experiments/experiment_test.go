package experiments

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"testing"
)

func ptr[T any](v T) *T { return &v }

// validCreateInput is a correct experiment with a control and one variant.
func validCreateInput() CreateInput {
	return CreateInput{
		Name:       "  Spring launch  ",
		Hypothesis: "A shorter subject gets more clicks",
		Holdout:    0.1,
		Audience:   Audience{Tags: []string{"customers"}},
		Variants: []VariantInput{
			{Name: "A", Control: true, Subject: "Hello {{.Contact.Name}}",
				HTML: `<p>Hi <a href="https://example.com/a">there</a></p>`, Text: "Hi https://example.com/a"},
			{Name: "B", Weight: ptr(2.0), Subject: "Hi",
				HTML: `<p>Hi <a href="https://example.com/b">there</a></p>`, Text: "Hi"},
		},
	}
}

func TestCreateInputValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(in *CreateInput)
		want   []string // the field keys of the ValidationError; nil when valid
	}{
		{"valid", func(in *CreateInput) {}, nil},
		{"holdout 0", func(in *CreateInput) { in.Holdout = 0 }, nil},
		{"holdout just under 1", func(in *CreateInput) { in.Holdout = 0.999 }, nil},
		{"one variant", func(in *CreateInput) { in.Variants = in.Variants[:1] }, nil},
		{"zero weight beside a positive one", func(in *CreateInput) { in.Variants[1].Weight = ptr(0.0) }, []string{"variants[1].weight"}},
		{"weight too large", func(in *CreateInput) { in.Variants[1].Weight = ptr(1e308) }, []string{"variants[1].weight"}},
		{"NaN viability threshold", func(in *CreateInput) { in.Viability = &Viability{Metric: "ctr", Threshold: math.NaN()} }, []string{"viability.threshold"}},
		{"infinite lift threshold", func(in *CreateInput) { in.Viability = &Viability{Metric: "lift", Threshold: math.Inf(1)} }, []string{"viability.threshold"}},
		{"NaN minimum chance", func(in *CreateInput) {
			in.Viability = &Viability{Metric: "ctr", Threshold: 0.05, MinChance: math.NaN()}
		}, []string{"viability.min_chance"}},
		{"NaN winner chance", func(in *CreateInput) {
			in.Winner = &WinnerInput{TestShare: 0.2, Wait: "4h", MinChance: ptr(math.NaN())}
		}, []string{"winner.min_chance"}},
		{"hypothesis too long", func(in *CreateInput) { in.Hypothesis = strings.Repeat("h", 2001) }, []string{"hypothesis"}},
		{"too many audience tags", func(in *CreateInput) { in.Audience.Tags = strings.Fields(strings.Repeat("t ", 51)) }, []string{"audience.tags"}},
		{"no audience tags", func(in *CreateInput) { in.Audience.Tags = nil }, nil},
		{"name of 200 bytes", func(in *CreateInput) { in.Name = strings.Repeat("n", 200) }, nil},

		{"missing name", func(in *CreateInput) { in.Name = "" }, []string{"name"}},
		{"blank name", func(in *CreateInput) { in.Name = " \t\n" }, []string{"name"}},
		{"name too long", func(in *CreateInput) { in.Name = strings.Repeat("n", 201) }, []string{"name"}},
		{"negative holdout", func(in *CreateInput) { in.Holdout = -0.1 }, []string{"holdout"}},
		{"holdout 1", func(in *CreateInput) { in.Holdout = 1 }, []string{"holdout"}},
		{"holdout above 1", func(in *CreateInput) { in.Holdout = 10 }, []string{"holdout"}},
		{"empty audience tag", func(in *CreateInput) { in.Audience.Tags = []string{"a", "  "} }, []string{"audience.tags[1]"}},
		{"no variants", func(in *CreateInput) { in.Variants = nil }, []string{"variants"}},
		{"empty variants", func(in *CreateInput) { in.Variants = []VariantInput{} }, []string{"variants"}},
		{"too many variants", func(in *CreateInput) {
			base := in.Variants[1]
			for i := len(in.Variants); i <= maxVariants; i++ {
				v := base
				v.Name = fmt.Sprintf("V%d", i)
				in.Variants = append(in.Variants, v)
			}
		}, []string{"variants"}},
		{"zero controls", func(in *CreateInput) { in.Variants[0].Control = false }, []string{"variants"}},
		{"two controls", func(in *CreateInput) { in.Variants[1].Control = true }, []string{"variants"}},
		{"negative weight", func(in *CreateInput) { in.Variants[1].Weight = ptr(-1.0) }, []string{"variants[1].weight"}},
		{"all weights zero", func(in *CreateInput) {
			in.Variants[0].Weight = ptr(0.0)
			in.Variants[1].Weight = ptr(0.0)
		}, []string{"variants[0].weight", "variants[1].weight"}},
		{"duplicate variant names", func(in *CreateInput) { in.Variants[1].Name = "A" }, []string{"variants[1].name"}},
		{"duplicate variant names after trimming", func(in *CreateInput) { in.Variants[1].Name = " A " }, []string{"variants[1].name"}},
		{"missing variant name", func(in *CreateInput) { in.Variants[0].Name = " " }, []string{"variants[0].name"}},
		{"bad link URL in html", func(in *CreateInput) {
			in.Variants[0].HTML = `<p><a href="https://exa mple.com/">x</a></p>`
		}, []string{"variants[0].html"}},
		{"bad link URL in text", func(in *CreateInput) { in.Variants[1].Text = "go to http://[::1 now" }, []string{"variants[1].text"}},
		{"template error in subject", func(in *CreateInput) { in.Variants[1].Subject = "{{.Contact.Nope}}" }, []string{"variants[1].subject"}},
		{"missing subject, html and text", func(in *CreateInput) {
			in.Variants[1].Subject, in.Variants[1].HTML, in.Variants[1].Text = "", "", ""
		}, []string{"variants[1].html", "variants[1].subject", "variants[1].text"}},
		{"problems everywhere", func(in *CreateInput) {
			in.Name = ""
			in.Holdout = 1
			in.Variants[0].Control = false
			in.Variants[1].Name = "A"
			in.Variants[1].Weight = ptr(-2.0)
			in.Variants[0].HTML = `<a href="http://">x</a>`
		}, []string{"holdout", "name", "variants", "variants[0].html", "variants[1].name", "variants[1].weight"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := validCreateInput()
			tt.change(&in)
			variants, err := in.validate(testFooters)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("validate: unexpected error %v", err)
				}
				if len(variants) != len(in.Variants) {
					t.Fatalf("got %d variants, want %d", len(variants), len(in.Variants))
				}
				return
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("validate error = %v (%T), want a *ValidationError", err, err)
			}
			if variants != nil {
				t.Errorf("validate returned variants along with an error")
			}
			if got := slices.Sorted(maps.Keys(ve.Fields)); !slices.Equal(got, tt.want) {
				t.Errorf("error fields = %q (%v), want %q", got, ve, tt.want)
			}
			for k, msg := range ve.Fields {
				if msg == "" {
					t.Errorf("field %s has an empty message", k)
				}
			}
		})
	}
}

func TestCreateInputValidateMessages(t *testing.T) {
	tests := []struct {
		name   string
		change func(in *CreateInput)
		field  string
		msg    string
	}{
		{"holdout", func(in *CreateInput) { in.Holdout = 1 }, "holdout", "10%"},
		{"zero controls", func(in *CreateInput) { in.Variants[0].Control = false }, "variants", "found 0"},
		{"two controls", func(in *CreateInput) { in.Variants[1].Control = true }, "variants", "found 2"},
		{"weights", func(in *CreateInput) {
			in.Variants[0].Weight, in.Variants[1].Weight = ptr(0.0), ptr(0.0)
		}, "variants[0].weight", "above 0"},
		{"duplicate", func(in *CreateInput) { in.Variants[1].Name = "A" }, "variants[1].name", "variants[0]"},
		{"bad link", func(in *CreateInput) { in.Variants[0].HTML = `<a href="http://">x</a>` }, "variants[0].html", `"http://"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := validCreateInput()
			tt.change(&in)
			_, err := in.validate(testFooters)
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("validate error = %v, want a *ValidationError", err)
			}
			if !strings.Contains(ve.Fields[tt.field], tt.msg) {
				t.Errorf("%s: %q does not contain %q", tt.field, ve.Fields[tt.field], tt.msg)
			}
			if !strings.Contains(err.Error(), tt.field+": ") {
				t.Errorf("Error() = %q does not name %s", err, tt.field)
			}
		})
	}
}

func TestCreateInputValidateResult(t *testing.T) {
	in := validCreateInput()
	variants, err := in.validate(testFooters)
	if err != nil {
		t.Fatalf("validate: %v", err)
	}
	if in.Name != "Spring launch" {
		t.Errorf("name = %q, want it trimmed", in.Name)
	}
	if len(variants) != 2 {
		t.Fatalf("got %d variants", len(variants))
	}
	a, b := variants[0], variants[1]
	if a.Name != "A" || a.Position != 0 || !a.Control || a.Weight != 1 {
		t.Errorf("variant 0 = name %q position %d control %v weight %v; want A, 0, true, 1 (the default weight)", a.Name, a.Position, a.Control, a.Weight)
	}
	if b.Name != "B" || b.Position != 1 || b.Control || b.Weight != 2 {
		t.Errorf("variant 1 = name %q position %d control %v weight %v; want B, 1, false, 2", b.Name, b.Position, b.Control, b.Weight)
	}
	if a.ID == b.ID || a.ID.String() == "00000000-0000-0000-0000-000000000000" {
		t.Errorf("variant ids %s and %s should be distinct and set", a.ID, b.ID)
	}
	if !slices.Equal(a.Links, []string{"https://example.com/a"}) || !slices.Equal(b.Links, []string{"https://example.com/b"}) {
		t.Errorf("links = %q and %q", a.Links, b.Links)
	}
	for _, v := range variants {
		if !strings.Contains(v.HTMLCompiled, "{{index .Links 0}}") || !strings.Contains(v.HTMLCompiled, testFooters.HTMLFooter) {
			t.Errorf("variant %s: HTMLCompiled = %q", v.Name, v.HTMLCompiled)
		}
		if !strings.HasSuffix(v.TextCompiled, testFooters.TextFooter) {
			t.Errorf("variant %s: TextCompiled = %q", v.Name, v.TextCompiled)
		}
	}
}

// The same checks apply to input decoded from the JSON an API client posts;
// an absent weight means 1.
func TestCreateInputValidateFromJSON(t *testing.T) {
	tests := []struct {
		name string
		body string
		want []string
	}{
		{"valid, weights absent", `{"name":"x","holdout":0.2,"variants":[
			{"name":"A","control":true,"subject":"s","html":"<p>h</p>","text":"t"},
			{"name":"B","subject":"s","html":"<p>h</p>","text":"t"}]}`, nil},
		{"holdout 1", `{"name":"x","holdout":1,"variants":[{"name":"A","control":true,"subject":"s","html":"h","text":"t"}]}`,
			[]string{"holdout"}},
		{"weight null means 1", `{"name":"x","variants":[{"name":"A","control":true,"weight":null,"subject":"s","html":"h","text":"t"}]}`, nil},
		{"explicit zero weights", `{"name":"x","variants":[
			{"name":"A","control":true,"weight":0,"subject":"s","html":"h","text":"t"},
			{"name":"B","weight":0,"subject":"s","html":"h","text":"t"}]}`, []string{"variants[0].weight", "variants[1].weight"}},
		{"negative weight", `{"name":"x","variants":[
			{"name":"A","control":true,"subject":"s","html":"h","text":"t"},
			{"name":"B","weight":-0.5,"subject":"s","html":"h","text":"t"}]}`, []string{"variants[1].weight"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var in CreateInput
			if err := json.Unmarshal([]byte(tt.body), &in); err != nil {
				t.Fatal(err)
			}
			_, err := in.validate(testFooters)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("validate: unexpected error %v", err)
				}
				return
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("validate error = %v, want a *ValidationError", err)
			}
			if got := slices.Sorted(maps.Keys(ve.Fields)); !slices.Equal(got, tt.want) {
				t.Errorf("error fields = %q, want %q", got, tt.want)
			}
		})
	}
}
