// Package okr holds objectives, key results, check-ins, events, the
// attribution of clicks to key results, the weekly review and the Monday
// digest, and time allocation with its Friday survey (product.md §8, §9). It
// is the top domain layer: it calls experiments and tracking, never the
// other way round, and names only its own tables (store.go; see
// migrations.Owners). ISO weeks are tracking.Week.
package okr
