package experiences

// CoReadingState is what everyone in a co-reading session sees.
type CoReadingState struct {
	SelectedStoryID  string `json:"selectedStoryId"`
	CurrentPageIndex int    `json:"currentPageIndex"`
	IsFullScreenMode bool   `json:"isFullScreenMode"`
}

// CoReading is reading a story together, page by page.
var CoReading = Define(Definition[CoReadingState]{
	// A story id of at most 128 id characters, a page index and a flag.
	MaxStateBytes: 1 << 10,
	ID:            "co_reading",
	SchemaVersion: 1,
	Events: map[string]Schema{
		"story_selected": {"storyId": ID(128)},
		"page_changed":   {"pageIndex": IntRange(0, 9999)},
		"story_closed":   {},
	},
	Initial: func() CoReadingState { return CoReadingState{} },
	Reduce: func(s CoReadingState, e Event) CoReadingState {
		switch e.Type {
		case "story_selected":
			return CoReadingState{SelectedStoryID: e.Data["storyId"], IsFullScreenMode: true}
		case "page_changed":
			if s.SelectedStoryID == "" {
				return s // no story to turn the page of
			}
			s.CurrentPageIndex = atoi(e.Data["pageIndex"])
		case "story_closed":
			return CoReadingState{}
		}
		return s
	},
})
