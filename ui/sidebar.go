package ui

import (
	"context"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
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
			p.openConversation(e.hit.ConversationID)
		case e.header == "":
			p.openConversation(e.conv.ID)
		default:
			s.list.Unselect(id)
		}
	}
	top := container.NewVBox(newChat, s.search)
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
		return "1 match"
	}
	return strconv.Itoa(n) + " matches"
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

// sidebarRow shows a heading, a conversation (title, when, a menu) or a
// search hit (title and snippet).
type sidebarRow struct {
	widget.BaseWidget
	side    *sidebar
	entry   sidebarEntry
	heading *widget.Label
	title   *widget.Label
	detail  *widget.Label
	pin     *widget.Icon
	menu    *widget.Button
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
	r.pin = widget.NewIcon(theme.NewThemedResource(pinIcon))
	r.menu = widget.NewButtonWithIcon("", theme.MoreVerticalIcon(), func() { r.showMenu() })
	r.menu.Importance = widget.LowImportance
	text := container.New(&tightVBox{}, r.title, r.detail)
	r.root = container.NewStack(
		container.NewBorder(nil, nil, r.heading, nil),
		container.NewBorder(nil, nil, r.pin, r.menu, text),
	)
	r.ExtendBaseWidget(r)
	return r
}

func (r *sidebarRow) set(e sidebarEntry) {
	r.entry = e
	conv := r.root.Objects[1]
	switch {
	case e.header != "":
		r.heading.SetText(strings.ToUpper(e.header))
		r.heading.Show()
		conv.Hide()
	case e.hit != nil:
		r.heading.Hide()
		conv.Show()
		r.title.SetText(e.hit.Title)
		r.detail.SetText(e.hit.Snippet)
		r.pin.Hide()
		r.menu.Hide()
	default:
		r.heading.Hide()
		conv.Show()
		title := e.conv.Title
		if title == "" {
			title = "New conversation"
		}
		r.title.SetText(title)
		detail := e.conv.UpdatedAt.Local().Format("Jan 2, 15:04")
		if e.conv.Persona != "" {
			detail += " · " + e.conv.Persona
		}
		r.detail.SetText(detail)
		setVisible(r.pin, e.conv.Pinned)
		r.menu.Show()
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
			dialog.ShowConfirm("Delete conversation", "Delete “"+displayTitle(c)+"” and all its messages?", func(ok bool) {
				if ok {
					p.deleteConversation(c.ID)
				}
			}, p.w.win)
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
