package migrations

// Owners names, for every table of the schema, the one package that may name
// it in SQL (product.md §15): others call that package's functions. Tests
// check that every table the migrations create is listed here, and that each
// domain package's code names only the tables it owns.
var Owners = map[string]string{
	// experiments: teams and the people in them, audiences, experiments and their deliveries
	"organisations": "experiments",
	"org_admins":    "experiments",
	"org_tokens":    "experiments",
	"teams":         "experiments",
	"users":         "experiments",
	"memberships":   "experiments",
	"sessions":      "experiments",
	"api_tokens":    "experiments",
	"contacts":      "experiments",
	"contact_tags":  "experiments",
	"experiments":   "experiments",
	"variants":      "experiments",
	"deliveries":    "experiments",
	// counters kept by triggers on contacts and deliveries (and by imports)
	"contact_counts":  "experiments",
	"delivery_counts": "experiments",
	// messages sent per experiment, variant and day (kept by the send path)
	"daily_sends": "experiments",
	// the sending processes, to share SLICELAB_SEND_RATE between them
	"send_instances": "experiments",

	// tracking: tracked links, the click ledger (raw, append-only), the
	// projector's state, its classified view of the clicks and its rollups
	"links":             "tracking",
	"click_ledger":      "tracking",
	"click_projection":  "tracking",
	"clicks":            "tracking",
	"first_clicks":      "tracking",
	"weekly_clickers":   "tracking",
	"variant_weekly":    "tracking",
	"variant_clicks":    "tracking",
	"link_clicks":       "tracking",
	"automated_reasons": "tracking",

	// okr: objectives, key results, check-ins, events and time allocation
	"objectives":             "okr",
	"objective_teams":        "okr",
	"objective_owners":       "okr",
	"key_results":            "okr",
	"key_result_experiments": "okr",
	"check_ins":              "okr",
	"kr_snapshots":           "okr",
	"events":                 "okr",
	"allocation_categories":  "okr",
	"allocation_responses":   "okr",
	"allocation_shares":      "okr",
}
