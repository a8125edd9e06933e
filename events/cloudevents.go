package events

import "time"

// CloudEvents binary-mode attribute headers (CloudEvents NATS protocol
// binding, "ce-" prefix). The JSON envelope stays the message body, so a
// CloudEvents consumer reads the attributes from the headers and the body as
// application/json data.
const (
	HeaderCESpecVersion = "ce-specversion"
	HeaderCEID          = "ce-id"
	HeaderCEType        = "ce-type"
	HeaderCESource      = "ce-source"
	HeaderCETime        = "ce-time"
	HeaderCESubject     = "ce-subject"
	HeaderContentType   = "content-type"

	// CloudEventsTypePrefix prefixes the event type in ce-type,
	// e.g. "io.userlife.UserDeleted".
	CloudEventsTypePrefix = "io.userlife."
	// DefaultSource is ce-source unless the service is configured otherwise.
	DefaultSource = "userlife"
)

// CloudEventsHeaders returns the binary-mode attributes of e.
func CloudEventsHeaders(e Event, source string) map[string]string {
	if source == "" {
		source = DefaultSource
	}
	return map[string]string{
		HeaderCESpecVersion: "1.0",
		HeaderCEID:          e.ID,
		HeaderCEType:        CloudEventsTypePrefix + string(e.Type),
		HeaderCESource:      source,
		HeaderCETime:        e.OccurredAt.UTC().Format(time.RFC3339Nano),
		HeaderCESubject:     e.UserID,
		HeaderContentType:   "application/json",
	}
}
