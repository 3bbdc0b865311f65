package protocol

import "time"

type (
	// HistoryResponse answers GET /v1/me/history: entries newest first;
	// NextBefore, when set, is the before= of the next (older) page.
	HistoryResponse struct {
		Entries    []HistoryEntry `json:"entries"`
		NextBefore int64          `json:"next_before,omitempty"`
	}
	// HistoryEntry is one audit entry as its user sees it: when, what,
	// through which app, and the outcome (with the reason of a failure).
	HistoryEntry struct {
		Seq        int64       `json:"seq"`
		Time       time.Time   `json:"time"`
		Action     string      `json:"action"`
		App        *ScannedApp `json:"app,omitempty"`
		Session    string      `json:"session,omitempty"`
		Credential string      `json:"credential,omitempty"`
		Issuer     string      `json:"issuer,omitempty"`
		Digest     string      `json:"digest,omitempty"`
		Outcome    string      `json:"outcome"`
		// Reason is why a failed entry failed (e.g. wrong_pin).
		Reason string `json:"reason,omitempty"`
		// OnBehalfOf and Delegate are set on a key use through a
		// delegation: the organisation and the staff member who
		// confirmed (the organisation sees its staff's uses too).
		OnBehalfOf string `json:"on_behalf_of,omitempty"`
		Delegate   string `json:"delegate,omitempty"`
	}
)
