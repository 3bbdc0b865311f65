package session

// HubOpen is closed once the Service's store watch has first opened (the
// hub starts on the first Watch): events committed after it reach the
// watchers live, not by a re-list.
func HubOpen(s *Service) <-chan struct{} { return s.hub.open }
