package app

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/llamadesk/llamadesk/models"
	"github.com/llamadesk/llamadesk/models/download"
)

// Downloads from the Hugging Face hub (Pull, PullURL) and the hub token
// they use (Login, Logout).

// PullResult tells what Pull brought.
type PullResult struct {
	Model *models.Model
	File  *models.File
	// Path is where the verified file is.
	Path string
}

// Pull downloads a catalog model ("llama-2-7b-chat:Q4_K_M", see
// Catalog.Resolve) into the models folder, verified against the hub's
// SHA-256. progress receives reports (may be nil). When ctx ends the
// download pauses, and pulling again resumes it.
func (s *Models) Pull(ctx context.Context, ref string, progress func(download.Progress)) (*PullResult, error) {
	m, f, err := s.Catalog.Resolve(ref)
	if err != nil {
		return nil, err
	}
	res := &PullResult{Model: m, File: f, Path: filepath.Join(s.Library.Dir, f.File)}
	files, err := s.repoFiles(ctx, m.Repo)
	if err != nil {
		return nil, err
	}
	if len(f.Parts) == 0 {
		rf, err := hashedFile(files, m.Repo, f.File)
		if err != nil {
			return nil, err
		}
		req := s.hubRequest(m, f, rf, res.Path, progress, 0, rf.Size)
		return res, s.run(ctx, req)
	}
	return res, s.pullPieces(ctx, m, f, files, res.Path, progress)
}

// repoFiles lists a repository's files from the hub, falling back to the
// list cached by an earlier pull when the hub cannot be asked.
func (s *Models) repoFiles(ctx context.Context, repo string) ([]models.RepoFile, error) {
	lctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	files, err := s.Hub.Files(lctx, repo)
	if err == nil || ctx.Err() != nil {
		return files, err
	}
	if cached, _, cerr := s.Hub.CachedFiles(repo); cerr == nil {
		return cached, nil
	}
	return nil, fmt.Errorf("cannot get the sizes and checksums of %s: %w", repo, err)
}

// hashedFile finds name in a repository's list; it must have a SHA-256.
func hashedFile(files []models.RepoFile, repo, name string) (models.RepoFile, error) {
	rf, ok := models.FindRepoFile(files, name)
	if !ok {
		return rf, fmt.Errorf("%s has no file %s", repo, name)
	}
	if rf.SHA256 == "" {
		return rf, fmt.Errorf("%s/%s: the hub gives no SHA-256, so it cannot be verified", repo, name)
	}
	return rf, nil
}

// hubRequest builds the download of one repository file. Its progress is
// shifted by offset within a whole of total bytes (for split files).
func (s *Models) hubRequest(m *models.Model, f *models.File, rf models.RepoFile, dest string, progress func(download.Progress), offset, total int64) download.Request {
	u := s.Hub.FileURL(m.Repo, rf.Path)
	req := download.Request{
		URL:    u,
		Dest:   dest,
		SHA256: rf.SHA256,
		Size:   rf.Size,
		Header: s.Hub.HeaderFor(u),
		Name:   m.Ref(f),
	}
	if progress != nil {
		req.OnProgress = func(p download.Progress) {
			if p.State == download.StateDownloading || p.State == download.StateChecking {
				p.Done += offset
				p.Total = total
			}
			progress(p)
		}
	}
	return req
}

// pullPieces downloads a file uploaded in pieces, then joins them.
func (s *Models) pullPieces(ctx context.Context, m *models.Model, f *models.File, files []models.RepoFile, dest string, progress func(download.Progress)) error {
	var pieces []models.Piece
	var rfs []models.RepoFile
	var total int64
	for _, name := range f.Parts {
		rf, err := hashedFile(files, m.Repo, name)
		if err != nil {
			return err
		}
		rfs = append(rfs, rf)
		pieces = append(pieces, models.Piece{Path: filepath.Join(s.Library.Dir, name), Size: rf.Size})
		total += rf.Size
	}
	if fi, err := os.Stat(dest); err == nil {
		if fi.Size() == total {
			return nil // joined before
		}
		return fmt.Errorf("%s already exists with %d bytes, expected %d; remove it first", dest, fi.Size(), total)
	}
	joining := false
	if _, err := os.Stat(dest + ".joining"); err == nil {
		joining = true // an interrupted join holds the first piece
	}
	var offset int64
	for i, rf := range rfs {
		if !(i == 0 && joining) {
			req := s.hubRequest(m, f, rf, pieces[i].Path, progress, offset, total)
			if err := s.run(ctx, req); err != nil {
				return err
			}
		}
		offset += rf.Size
	}
	return models.JoinPieces(ctx, dest, pieces)
}

// run starts a download and waits for it to finish. When ctx ends, the job
// stops by itself with its progress saved; run waits for that.
func (s *Models) run(ctx context.Context, req download.Request) error {
	job, err := s.Downloads.Start(ctx, req)
	if err != nil {
		return err
	}
	<-job.Done()
	return job.Wait(context.Background())
}

// PullURL downloads any URL to out, verified against sha256 (hex). When ctx
// ends the download pauses, and pulling again resumes it.
func (s *Models) PullURL(ctx context.Context, url, sha256, out string, progress func(download.Progress)) error {
	return s.run(ctx, download.Request{URL: url, Dest: out, SHA256: sha256, OnProgress: progress})
}

// Login stores a hub access token (for gated repositories such as
// meta-llama's) in the data folder, readable only by the user.
func (s *Models) Login(token string) error {
	token = strings.TrimSpace(token)
	if err := models.SaveToken(s.home, token); err != nil {
		return err
	}
	s.Hub.Token = token
	return nil
}

// Logout removes the stored access token.
func (s *Models) Logout() error {
	if err := models.DeleteToken(s.home); err != nil {
		return err
	}
	s.Hub.Token = ""
	return nil
}

// TokenPath returns where Login keeps the access token.
func (s *Models) TokenPath() string { return models.TokenPath(s.home) }
