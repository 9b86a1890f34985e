package ui

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/llamadesk/llamadesk/app"
	"github.com/llamadesk/llamadesk/history"
)

// sidebarEntry is one row of the conversation list: a group heading, a
// conversation, or a search hit.
type sidebarEntry struct {
	header string
	conv   history.Conversation
	hit    *app.SearchResult
}

// groupConversations orders conversations for the list: pinned first, then
// by the day they were last used (Today, Yesterday, Previous 7 days,
// Previous 30 days, then by month), each group under a heading. convs come
// pinned first, newest first (as history.Store.Conversations lists them).
func groupConversations(convs []history.Conversation, now time.Time) []sidebarEntry {
	var out []sidebarEntry
	last := ""
	for _, c := range convs {
		g := "Pinned"
		if !c.Pinned {
			g = dayGroup(c.UpdatedAt, now)
		}
		if g != last {
			out = append(out, sidebarEntry{header: g})
			last = g
		}
		out = append(out, sidebarEntry{conv: c})
	}
	return out
}

// dayGroup names the group of a time relative to now, in now's time zone.
func dayGroup(t, now time.Time) string {
	t = t.In(now.Location())
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, now.Location())
	switch {
	case !t.Before(today):
		return "Today"
	case !t.Before(today.AddDate(0, 0, -1)):
		return "Yesterday"
	case !t.Before(today.AddDate(0, 0, -7)):
		return "Previous 7 days"
	case !t.Before(today.AddDate(0, 0, -30)):
		return "Previous 30 days"
	}
	return t.Format("January 2006")
}

// sidebar is the list of conversations with its search box and new-chat
// button.
type sidebar struct {
	page    *chatPage
	content fyne.CanvasObject
	search  *widget.Entry
	list    *widget.List
	// entries are what the list shows (UI goroutine).
	entries []sidebarEntry
	// query is the search text the entries answer ("" for all).
	query string
	// searchSeq numbers searches, so that only the newest answer is shown.
	searchSeq atomic.Int64
	// selecting is set while the list's selection is changed by code.
	selecting bool
	// headings are the rows given a heading's (smaller) height.
	headings map[int]bool
}

func newSidebar(p *chatPage) *sidebar {
	s := &sidebar{page: p}
	s.search = widget.NewEntry()
	s.search.SetPlaceHolder("Search conversations")
	s.search.ActionItem = widget.NewIcon(theme.SearchIcon())
	s.search.OnChanged = func(text string) { s.runSearch(text) }
	newChat := widget.NewButtonWithIcon("New chat", theme.ContentAddIcon(), func() { p.w.newChat() })
	newChat.Importance = widget.HighImportance

	s.list = widget.NewList(
		func() int { return len(s.entries) },
		func() fyne.CanvasObject { return newSidebarRow(s) },
		func(id widget.ListItemID, o fyne.CanvasObject) {
			if id < len(s.entries) {
				o.(*sidebarRow).set(s.entries[id])
			}
		},
	)
	s.list.OnSelected = func(id widget.ListItemID) {
		if s.selecting || id >= len(s.entries) {
			return
		}
		e := s.entries[id]
		switch {
		case e.hit != nil:
			p.openAt(e.hit.ConversationID, e.hit.MessageID)
		case e.header == "":
			p.openConversation(e.conv.ID)
		default:
			s.list.Unselect(id)
		}
	}
	hide := iconButton(theme.MenuIcon(), "Hide the conversations", func() { p.toggleSidebar() })
	top := container.NewVBox(container.NewBorder(nil, nil, nil, hide, newChat), s.search)
	s.content = container.NewBorder(top, nil, nil, nil, s.list)
	return s
}

// reload lists the conversations again (or repeats the search).
func (s *sidebar) reload() { s.runSearch(s.search.Text) }

// runSearch shows the conversations matching text, or all of them.
func (s *sidebar) runSearch(text string) {
	seq := s.searchSeq.Add(1)
	text = strings.TrimSpace(text)
	var entries []sidebarEntry
	svc := s.page.w.chatService()
	s.page.w.background("Search conversations", func(ctx context.Context) error {
		if text == "" {
			convs, err := svc.List(ctx)
			if err != nil {
				return err
			}
			entries = groupConversations(convs, time.Now())
			return nil
		}
		results, err := svc.Search(ctx, text, 100)
		if err != nil {
			return err
		}
		entries = append(entries, sidebarEntry{header: searchHeading(len(results))})
		for i := range results {
			entries = append(entries, sidebarEntry{hit: &results[i]})
		}
		return nil
	}, func(err error) {
		if err != nil || s.searchSeq.Load() != seq {
			return // a newer search is on its way
		}
		s.query = text
		s.entries = entries
		s.setHeights()
		s.list.Refresh()
		s.markCurrent()
	})
}

func searchHeading(n int) string {
	switch n {
	case 0:
		return "No matches"
	case 1:
		return "1 conversation"
	}
	return strconv.Itoa(n) + " conversations"
}

// setHeights gives heading rows a heading's height and the others the
// template's (changing only rows whose kind changed: each change redraws
// the list).
func (s *sidebar) setHeights() {
	if s.headings == nil {
		s.headings = map[int]bool{}
	}
	probe := newSidebarRow(s)
	rowH := probe.MinSize().Height
	headH := probe.heading.MinSize().Height
	for i, e := range s.entries {
		heading := e.header != ""
		if heading != s.headings[i] {
			if heading {
				s.list.SetItemHeight(i, headH)
			} else {
				s.list.SetItemHeight(i, rowH)
			}
			s.headings[i] = heading
		}
	}
}

// markCurrent selects the open conversation's row, if it is listed.
func (s *sidebar) markCurrent() {
	s.selecting = true
	defer func() { s.selecting = false }()
	for i, e := range s.entries {
		if e.header == "" && e.hit == nil && e.conv.ID == s.page.convID && s.page.convID != "" {
			s.list.Select(i)
			return
		}
	}
	s.list.UnselectAll()
}

// sidebarRow shows a heading, a conversation (title, when, a menu; a
// mark while a reply is being written in it) or a search result (title,
// number of matches, the snippet with the matches in bold).
type sidebarRow struct {
	widget.BaseWidget
	side    *sidebar
	entry   sidebarEntry
	heading *widget.Label
	title   *widget.Label
	detail  *widget.Label
	snippet *widget.RichText
	pin     *widget.Icon
	writing *widget.Icon
	menu    *tipButton
	conv    *fyne.Container
	root    *fyne.Container
}

func newSidebarRow(s *sidebar) *sidebarRow {
	r := &sidebarRow{side: s}
	r.heading = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	r.heading.SizeName = theme.SizeNameCaptionText
	r.heading.Importance = widget.LowImportance
	r.title = widget.NewLabel("")
	r.title.Truncation = fyne.TextTruncateEllipsis
	r.detail = widget.NewLabel("")
	r.detail.SizeName = theme.SizeNameCaptionText
	r.detail.Truncation = fyne.TextTruncateEllipsis
	r.snippet = widget.NewRichText()
	r.snippet.Truncation = fyne.TextTruncateEllipsis
	r.pin = widget.NewIcon(theme.NewThemedResource(pinIcon))
	r.writing = widget.NewIcon(theme.NewPrimaryThemedResource(theme.MediaRecordIcon()))
	r.menu = iconButton(theme.MoreVerticalIcon(), "Pin, rename, export or delete", func() { r.showMenu() })
	text := container.New(&tightVBox{}, r.title, container.NewStack(r.detail, r.snippet))
	r.conv = container.NewBorder(nil, nil, container.NewHBox(r.pin, r.writing), r.menu, text)
	r.root = container.NewStack(container.NewBorder(nil, nil, r.heading, nil), r.conv)
	r.ExtendBaseWidget(r)
	return r
}

func (r *sidebarRow) set(e sidebarEntry) {
	r.entry = e
	switch {
	case e.header != "":
		r.heading.SetText(strings.ToUpper(e.header))
		r.heading.Show()
		r.conv.Hide()
		return
	case e.hit != nil:
		r.heading.Hide()
		r.conv.Show()
		r.title.SetText(displayTitle(history.Conversation{Title: e.hit.Title}) + " · " + matchCount(e.hit.Hits))
		r.detail.Hide()
		r.snippet.Segments = snippetSegments(e.hit.Snippet, e.hit.Bold)
		r.snippet.Show()
		r.snippet.Refresh()
		r.pin.Hide()
		r.writing.Hide()
		r.menu.Hide()
	default:
		r.heading.Hide()
		r.conv.Show()
		r.title.SetText(displayTitle(e.conv))
		r.snippet.Hide()
		r.detail.Show()
		detail := e.conv.UpdatedAt.Local().Format("Jan 2, 15:04")
		if e.conv.Persona != "" {
			detail += " · " + e.conv.Persona
		}
		act, writing := r.side.page.w.chatService().Activity(e.conv.ID)
		if writing {
			detail = writingText(act)
			r.detail.Importance = widget.HighImportance
		} else {
			r.detail.Importance = widget.LowImportance
		}
		r.detail.SetText(detail)
		setVisible(r.pin, e.conv.Pinned)
		setVisible(r.writing, writing)
		r.menu.Show()
	}
	// Shown or hidden icons change the row's layout: lay it out again, so
	// that no row keeps the indent of an icon it no longer has.
	r.conv.Refresh()
}

// writingText describes a reply being written, with its live speed.
func writingText(a app.Activity) string {
	switch {
	case a.Live.Phase == app.PhaseWaiting:
		return "Waiting for the model…"
	case a.Live.Phase == app.PhasePrompt:
		return "Reading the conversation…"
	case a.Live.TokensPerSecond > 0:
		return fmt.Sprintf("Writing… %d tokens · %.1f tokens/s", a.Live.Tokens, a.Live.TokensPerSecond)
	}
	return "Writing…"
}

// matchCount says how many messages matched.
func matchCount(n int) string {
	if n == 1 {
		return "1 match"
	}
	return strconv.Itoa(n) + " matches"
}

// snippetSegments draws a search snippet with its matches in bold.
func snippetSegments(text string, bold []app.Span) []widget.RichTextSegment {
	style := widget.RichTextStyle{Inline: true, SizeName: theme.SizeNameCaptionText, ColorName: theme.ColorNameForeground}
	strong := style
	strong.TextStyle.Bold = true
	var segs []widget.RichTextSegment
	at := 0
	for _, b := range bold {
		if b.Start < at || b.End > len(text) {
			continue
		}
		if b.Start > at {
			segs = append(segs, &widget.TextSegment{Text: text[at:b.Start], Style: style})
		}
		segs = append(segs, &widget.TextSegment{Text: text[b.Start:b.End], Style: strong})
		at = b.End
	}
	if at < len(text) {
		segs = append(segs, &widget.TextSegment{Text: text[at:], Style: style})
	}
	return segs
}

// refreshWriting redraws the rows of conversations being written in
// (their live speed).
func (s *sidebar) refreshWriting() {
	svc := s.page.w.chatService()
	for i, e := range s.entries {
		if e.header == "" && e.hit == nil {
			if _, ok := svc.Activity(e.conv.ID); ok {
				s.list.RefreshItem(i)
			}
		}
	}
}

// showMenu offers pin, rename, export and delete for the row's conversation.
func (r *sidebarRow) showMenu() {
	p := r.side.page
	c := r.entry.conv
	pinLabel := "Pin"
	if c.Pinned {
		pinLabel = "Unpin"
	}
	menu := fyne.NewMenu("",
		fyne.NewMenuItem(pinLabel, func() { p.setPinned(c.ID, !c.Pinned) }),
		fyne.NewMenuItem("Rename…", func() { p.rename(c) }),
		fyne.NewMenuItem("Export…", func() { p.exportConversation(c) }),
		fyne.NewMenuItemSeparator(),
		fyne.NewMenuItem("Delete…", func() {
			p.w.confirmDelete("Delete conversation", "Delete “"+displayTitle(c)+"” and all its messages?", func() {
				p.deleteConversation(c.ID)
			})
		}),
	)
	cv := fyne.CurrentApp().Driver().CanvasForObject(r.menu)
	if cv == nil {
		return
	}
	pos := fyne.CurrentApp().Driver().AbsolutePositionForObject(r.menu)
	widget.ShowPopUpMenuAtPosition(menu, cv, pos.AddXY(0, r.menu.Size().Height))
}

// CreateRenderer draws the row's stack.
func (r *sidebarRow) CreateRenderer() fyne.WidgetRenderer { return widget.NewSimpleRenderer(r.root) }

func displayTitle(c history.Conversation) string {
	if c.Title == "" {
		return "New conversation"
	}
	return c.Title
}

// tightVBox stacks objects vertically without padding between them.
type tightVBox struct{}

// Layout implements fyne.Layout, centring the stack vertically.
func (tightVBox) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	y := float32(0)
	h := tightVBox{}.MinSize(objs).Height
	if extra := size.Height - h; extra > 0 {
		y = extra / 2
	}
	for _, o := range objs {
		m := o.MinSize()
		o.Move(fyne.NewPos(0, y))
		o.Resize(fyne.NewSize(size.Width, m.Height))
		y += m.Height - theme.Padding()
	}
}

// MinSize implements fyne.Layout.
func (tightVBox) MinSize(objs []fyne.CanvasObject) fyne.Size {
	var s fyne.Size
	for _, o := range objs {
		m := o.MinSize()
		s.Width = fyne.Max(s.Width, m.Width)
		s.Height += m.Height - theme.Padding()
	}
	return s.AddWidthHeight(0, theme.Padding())
}

// pinIcon is a push-pin (Fyne has no pin icon).
var pinIcon = fyne.NewStaticResource("pin.svg", []byte(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><path fill="#000" d="M16 3v2h-1v5l3 3v2h-5v6l-1 1-1-1v-6H6v-2l3-3V5H8V3z"/></svg>`))
