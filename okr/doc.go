// Package okr will hold objectives, key results, check-ins, ISO weeks,
// attribution of clicks to key results, the weekly review and time
// allocation (product.md §8, §9). It is the top domain layer: it may read
// experiments and tracking, never the other way round.
package okr
